//! `agentdeploy chat`: a conversation in the terminal with a deployed agent (through Invoke of
//! `live`, with the caller's AWS credentials) or with one `dev` serves (`--local URL`), one
//! session for the whole chat (reference §13).
//!
//! On a terminal: a line editor with history, the answer's words printed as they arrive, a tool
//! use as one line, and the commands `/new`, `/session`, `/data JSON`, `/quit`. Anything else
//! (a pipe, a file): one turn per line and one line per answer on stdout, so a script can hold a
//! conversation.

use std::io::IsTerminal;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::cli::{ChatArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::output;
use crate::target::Target;

/// The header an AgentCore entrypoint reads its session id from.
const AGENTCORE_SESSION_HEADER: &str = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id";

pub async fn chat<T: Target>(ctx: &Context, args: &ChatArgs, target: Option<T>) -> Result<i32> {
    let peer = match (&args.local, &args.name, target) {
        (Some(url), None, _) => Peer::Local(LocalUrl::parse(url)?),
        (None, Some(name), Some(target)) => {
            target.check_name(name)?;
            let sdk = crate::orchestrate::lookup::sdk_for(ctx, name, None).await?;
            Peer::Deployed {
                target,
                sdk: Box::new(sdk),
                name: name.clone(),
            }
        }
        _ => {
            return Err(Error::usage_hint(
                "NAME",
                "chat with a deployed agent (NAME) or a local one (--local URL), not both",
                "agentdeploy chat NAME, or agentdeploy chat --local http://127.0.0.1:8765",
            ));
        }
    };
    if let Peer::Local(url) = &peer {
        url.check_reachable().await?;
    }
    let interactive = std::io::stdin().is_terminal();
    let mut session = Session {
        id: new_session_id()?,
        data: None,
        json: ctx.global.output == OutputFormat::Json,
        interactive,
        said_whole: false,
    };
    if interactive {
        eprintln!(
            "chatting with {} (session {}); /new /session /data JSON /quit",
            peer.describe(),
            session.id
        );
        let lines = editor_lines();
        session.run(&peer, lines).await
    } else {
        session.run(&peer, piped_lines()).await
    }
}

/// Where the turns go.
enum Peer<T: Target> {
    Local(LocalUrl),
    Deployed {
        target: T,
        sdk: Box<aws_config::SdkConfig>,
        name: String,
    },
}

impl<T: Target> Peer<T> {
    fn describe(&self) -> String {
        match self {
            Peer::Local(url) => url.text.clone(),
            Peer::Deployed { name, .. } => format!("{name} (live)"),
        }
    }

    /// One turn: `each` hears every event as it arrives; the answer (`{"output"}` or
    /// `{"error"}`), and whether it came as a stream.
    async fn send(
        &self,
        request: &Value,
        session: &str,
        each: &mut (dyn FnMut(Value) + Send),
    ) -> Result<(Value, bool)> {
        match self {
            Peer::Local(url) => url.post(request, session, each).await,
            Peer::Deployed { target, sdk, name } => {
                let payload = serde_json::to_vec(request)
                    .map_err(|e| Error::internal(format!("the request: {e}")))?;
                let mut streamed = false;
                let mut relay = |event: Value| {
                    let is_answer = event.get("output").is_some() || event.get("error").is_some();
                    streamed |= !is_answer;
                    each(event);
                };
                let out = target
                    .invoke_streamed(sdk, name, None, payload, &mut relay)
                    .await?;
                let answer: Value = serde_json::from_slice(&out.payload).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&out.payload).into_owned())
                });
                let answer = match out.function_error {
                    Some(kind) => json!({"error": kind, "message": answer}),
                    None => answer,
                };
                Ok((answer, streamed))
            }
        }
    }
}

/// What the user types, one line at a time, asked for only once the last turn has been
/// answered (so the prompt follows the answer).
struct Lines {
    ask: Option<std::sync::mpsc::Sender<()>>,
    lines: tokio::sync::mpsc::Receiver<String>,
}

impl Lines {
    /// The next line; `None`: the end (Ctrl-D, Ctrl-C at the prompt, the pipe's end).
    async fn next(&mut self) -> Option<String> {
        if let Some(ask) = &self.ask {
            ask.send(()).ok()?;
        }
        self.lines.recv().await
    }
}

/// A terminal's lines through the line editor (history, editing).
fn editor_lines() -> Lines {
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (send, lines) = tokio::sync::mpsc::channel(1);
    std::thread::spawn(move || {
        let Ok(mut editor) = rustyline::DefaultEditor::new() else {
            return;
        };
        while asked.recv().is_ok() {
            let Ok(line) = editor.readline("you> ") else {
                break;
            };
            let _ = editor.add_history_entry(line.as_str());
            if send.blocking_send(line).is_err() {
                break;
            }
        }
    });
    Lines {
        ask: Some(ask),
        lines,
    }
}

fn piped_lines() -> Lines {
    let (send, lines) = tokio::sync::mpsc::channel(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if send.blocking_send(line).is_err() {
                break;
            }
        }
    });
    Lines { ask: None, lines }
}

struct Session {
    id: String,
    /// `/data`'s value, sent with the next turn only.
    data: Option<Value>,
    json: bool,
    interactive: bool,
    /// "answers arrive whole" was said once.
    said_whole: bool,
}

impl Session {
    async fn run<T: Target>(&mut self, peer: &Peer<T>, mut lines: Lines) -> Result<i32> {
        let interrupted = crate::orchestrate::lifecycle::shutdown_signal();
        tokio::pin!(interrupted);
        loop {
            let line = tokio::select! {
                line = lines.next() => line,
                () = &mut interrupted => None,
            };
            let Some(line) = line else {
                return Ok(exit_codes::OK);
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(command) = line.strip_prefix('/') {
                if !self.command(command) {
                    return Ok(exit_codes::OK);
                }
                continue;
            }
            tokio::select! {
                turn = self.turn(peer, line) => turn?,
                () = &mut interrupted => {
                    eprintln!();
                    return Ok(exit_codes::OK);
                }
            }
        }
    }

    /// `/new`, `/session`, `/data JSON`, `/quit`; false: the chat ends.
    fn command(&mut self, command: &str) -> bool {
        let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
        match name {
            "quit" | "exit" => return false,
            "new" => match new_session_id() {
                Ok(id) => {
                    self.id = id;
                    eprintln!("new session {}", self.id);
                }
                Err(err) => eprintln!("no new session: {err}"),
            },
            "session" => match self.json {
                true => crate::outln!("{}", json!({"session_id": self.id})),
                false => crate::outln!("{}", self.id),
            },
            "data" => match serde_json::from_str::<Value>(rest.trim()) {
                Ok(value) => {
                    self.data = Some(value);
                    eprintln!("the next turn sends this data");
                }
                Err(err) => eprintln!("/data takes JSON ({err}); nothing changed"),
            },
            other => eprintln!("/{other} is not a command: /new /session /data JSON /quit"),
        }
        true
    }

    async fn turn<T: Target>(&mut self, peer: &Peer<T>, text: &str) -> Result<()> {
        let mut request = json!({"input": text, "session_id": self.id});
        if let Some(data) = self.data.take() {
            request["data"] = data;
        }
        let interactive = self.interactive && !self.json;
        let mut shown = Shown::default();
        let mut each = |event: Value| {
            if interactive {
                shown.show(&event);
            }
        };
        let (answer, streamed) = peer.send(&request, &self.id, &mut each).await?;
        if interactive && !streamed && !self.said_whole {
            self.said_whole = true;
            eprintln!("(this agent does not stream: each answer arrives whole)");
        }
        if let Some(id) = answer.get("session_id").and_then(Value::as_str) {
            // The agent's own id for the conversation (an entry that names it) is kept.
            self.id = id.to_string();
        }
        self.print(&answer, interactive && shown.words);
        Ok(())
    }

    /// The answer: after its streamed words, only the line's end; an error on stderr.
    fn print(&self, answer: &Value, words_shown: bool) {
        if self.json {
            crate::outln!("{}", json!({"session_id": self.id, "answer": answer}));
            return;
        }
        if let Some(error) = answer.get("error") {
            let message = answer.get("message").map(text_of).unwrap_or_default();
            let location = answer
                .get("location")
                .and_then(Value::as_str)
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            eprintln!("error: {}{location}: {message}", text_of(error));
            if !self.interactive {
                crate::outln!("");
            }
            return;
        }
        let output = answer.get("output").unwrap_or(answer);
        if words_shown {
            output::write_stdout_part("\n");
        } else if self.interactive {
            crate::outln!("{}", text_of(output));
        } else {
            // One line per answer: a script pairs its lines with the answers.
            crate::outln!("{}", text_of(output).replace(['\r', '\n'], " "));
        }
    }
}

/// What a terminal has shown of one streamed answer.
#[derive(Default)]
struct Shown {
    words: bool,
    tools: Vec<String>,
}

impl Shown {
    fn show(&mut self, event: &Value) {
        if let Some(piece) = event.get("data").and_then(Value::as_str) {
            output::write_stdout_part(piece);
            self.words = true;
        } else if let Some(tool) = event.get("current_tool_use") {
            // Each tool use once, as its name first appears (its input streams in after it).
            let id = tool
                .get("toolUseId")
                .map(|v| v.to_string())
                .unwrap_or_default();
            if !self.tools.contains(&id) {
                self.tools.push(id);
                let name = tool.get("name").map(text_of).unwrap_or_default();
                let line = format!("[tool: {name}]");
                output::write_stdout_part(&if self.words {
                    format!("\n{line}\n")
                } else {
                    format!("{line}\n")
                });
                self.words = false;
            }
        } else if event.get("output").is_none() && event.get("error").is_none() {
            // An entrypoint's own items.
            crate::outln!("{event}");
        }
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn new_session_id() -> Result<String> {
    Ok(crate::digest::hex(&crate::files::random_bytes(16)?))
}

/// `--local URL`: what `dev` serves (plain HTTP on this machine).
struct LocalUrl {
    text: String,
    host: String,
    port: u16,
}

impl LocalUrl {
    fn parse(url: &str) -> Result<LocalUrl> {
        let hint = "the URL `agentdeploy dev` printed, e.g. http://127.0.0.1:8765";
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            Error::usage_hint("--local", format!("`{url}` is not an http:// URL"), hint)
        })?;
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
        let port = port.parse::<u16>().map_err(|_| {
            Error::usage_hint("--local", format!("`{url}` has no valid port"), hint)
        })?;
        if host.is_empty() {
            return Err(Error::usage_hint(
                "--local",
                format!("`{url}` names no host"),
                hint,
            ));
        }
        Ok(LocalUrl {
            text: format!("http://{host}:{port}"),
            host: host.to_string(),
            port,
        })
    }

    async fn connect(&self) -> std::io::Result<tokio::net::TcpStream> {
        tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await
    }

    async fn check_reachable(&self) -> Result<()> {
        self.connect().await.map(drop).map_err(|err| {
            Error::usage_hint(
                "--local",
                format!("nothing answers at {} ({err})", self.text),
                "start it with `agentdeploy dev` (it prints the URL), or pass its --port",
            )
        })
    }

    /// POST /invoke; Server-Sent Events handed to `each` as each completes.
    async fn post(
        &self,
        request: &Value,
        session: &str,
        each: &mut (dyn FnMut(Value) + Send),
    ) -> Result<(Value, bool)> {
        let unreachable = |err: std::io::Error| Error::Deploy {
            message: format!("{} stopped answering: {err}", self.text),
            hint: "is `agentdeploy dev` still running?".into(),
        };
        let mut stream = self.connect().await.map_err(unreachable)?;
        let body = request.to_string();
        let head = format!(
            "POST /invoke HTTP/1.1\r\nhost: {}:{}\r\ncontent-type: application/json\r\naccept: text/event-stream, application/json\r\n{AGENTCORE_SESSION_HEADER}: {session}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.host,
            self.port,
            body.len()
        );
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .map_err(unreachable)?;
        let mut reader = tokio::io::BufReader::new(stream);
        let response = read_head(&mut reader).await.map_err(unreachable)?;
        let mut events = crate::sse::EventStream::default();
        let sse = response.content_type.starts_with("text/event-stream");
        let mut all = Vec::new();
        let mut feed = |chunk: &[u8]| {
            all.extend_from_slice(chunk);
            if sse {
                for event in events.feed(chunk) {
                    each(event);
                }
            }
        };
        read_body(&mut reader, &response, &mut feed)
            .await
            .map_err(unreachable)?;
        let answer = if sse {
            crate::sse::answer_of(&crate::sse::events(&all))
        } else {
            serde_json::from_slice(&all)
                .unwrap_or_else(|_| json!({"output": String::from_utf8_lossy(&all)}))
        };
        Ok((answer, sse))
    }
}

struct ResponseHead {
    content_type: String,
    chunked: bool,
    length: Option<usize>,
}

async fn read_head(
    reader: &mut (impl tokio::io::AsyncBufRead + Unpin),
) -> std::io::Result<ResponseHead> {
    let mut head = ResponseHead {
        content_type: String::new(),
        chunked: false,
        length: None,
    };
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            return Ok(head);
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => head.content_type = value,
            "transfer-encoding" => head.chunked = value.contains("chunked"),
            "content-length" => head.length = value.parse().ok(),
            _ => {}
        }
    }
}

async fn read_body(
    reader: &mut (impl tokio::io::AsyncBufRead + Unpin),
    head: &ResponseHead,
    feed: &mut dyn FnMut(&[u8]),
) -> std::io::Result<()> {
    if !head.chunked {
        let mut body = Vec::new();
        match head.length {
            Some(length) => {
                body.resize(length, 0);
                reader.read_exact(&mut body).await?;
            }
            None => {
                reader.read_to_end(&mut body).await?;
            }
        }
        feed(&body);
        return Ok(());
    }
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|_| std::io::Error::other("a bad chunk size"))?;
        if size == 0 {
            return Ok(());
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).await?;
        feed(&chunk[..size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_url_is_http_with_a_host_and_port() {
        let url = LocalUrl::parse("http://127.0.0.1:8765/").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 8765));
        for bad in [
            "https://x:1",
            "127.0.0.1:8765",
            "http://:80",
            "http://h:port",
        ] {
            let err = LocalUrl::parse(bad).err().unwrap();
            assert!(err.to_string().starts_with("--local: "), "{bad}: {err}");
        }
    }
}
