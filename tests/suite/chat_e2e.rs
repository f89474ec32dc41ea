//! `agentdeploy chat` (reference §13): one session for the whole conversation, driven through a
//! pseudo-terminal as a person types (the words on screen before the answer has ended, `/new`
//! starting another session, Ctrl-C ending it) and through a pipe as a script does (one line per
//! answer), with an agent `dev` serves and with the deployed one.

use std::process::Stdio;

use crate::common::dev_server::DevServer;
use crate::common::*;

fn project() -> tempfile::TempDir {
    project_of(&[
        ("conversations", "main_style.py"),
        ("conversations", "stub_model.py"),
        ("streaming", "agent_streaming.py"),
        ("streaming", "pausing_model.py"),
    ])
}

/// `chat ARGS` with `input` piped in; (exit code, stdout lines, stderr).
pub fn piped_chat(
    cwd: &std::path::Path,
    args: &[&str],
    input: &str,
    configure: impl FnOnce(&mut std::process::Command),
) -> (i32, Vec<String>, String) {
    let mut cmd = agentdeploy(cwd);
    configure(&mut cmd);
    let mut child = cmd
        .arg("chat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (out.status.code().unwrap_or(-1), lines, stderr(&out))
}

#[test]
fn a_piped_chat_holds_one_session_and_new_starts_another() {
    let project = project();
    let server = DevServer::start(
        project.path(),
        &["--agent", "main_style.py", "--conversation", "session"],
    );
    let (code, lines, err) = piped_chat(
        project.path(),
        &["--local", &server.url],
        "alice\nand then?\n/new\nfresh start\n",
        |_| {},
    );
    assert_eq!(code, 0, "{err}");
    let answers: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mains: Vec<&str> = answers
        .iter()
        .map(|a| a["main"].as_str().unwrap())
        .collect();
    assert_eq!(
        mains,
        [
            "main saw 1 messages: alice",
            "main saw 3 messages: and then?",
            "main saw 1 messages: fresh start"
        ],
        "one line per answer; the second continued the first; /new started over"
    );
    assert!(err.contains("new session "), "{err}");
}

#[test]
fn nothing_at_the_local_url_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let (code, _, err) = piped_chat(dir.path(), &["--local", &url], "hi\n", |_| {});
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("--local: nothing answers at {url}")),
        "{err}"
    );
    assert!(err.contains("agentdeploy dev"), "{err}");
}

/// Runs `chat` in a pseudo-terminal as a person at a terminal: `until` reads what it shows up to
/// a pattern, `ctrl_c_ends_it` presses Ctrl-C and prints the exit code.
const PTY_PRELUDE: &str = r#"
import os, pty, re, select, signal, sys, time, json
binary, url, gate = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "chat", "--local", url])
seen = b""
def until(pattern, limit=120):
    global seen
    deadline = time.monotonic() + limit
    while True:
        match = re.search(pattern, seen)
        if match:
            found = seen[:match.end()]
            seen = seen[match.end():]
            return found, match
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit(f"never saw {pattern!r}; saw {seen!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                sys.exit(f"chat ended before {pattern!r}; saw {seen!r}")
            seen += chunk
def ctrl_c_ends_it():
    def stuck(*_):
        os.kill(pid, 9)
        sys.exit(f"chat did not end on Ctrl-C; it showed {seen!r}")
    signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    os.write(fd, b"\x03")
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}))
"#;

/// Types a turn, sees the first words while the model waits at its gate, opens the gate, sees
/// the rest; `/session`, `/new`, `/session`; then Ctrl-C at the prompt.
const PTY_STREAMED: &str = r#"
until(rb"you> ")
os.write(fd, b"hello\r")
# The first words are on screen while the model waits at its gate for the rest: a chat that
# printed only whole answers would never get here.
until(rb"stub saw 1 messages: ")
open(gate, "w").close()
until(rb"hello")
until(rb"you> ")
os.write(fd, b"/session\r")
_, first = until(rb"([0-9a-f]{32})")
until(rb"you> ")
os.write(fd, b"/new\r")
until(rb"new session [0-9a-f]{32}")
until(rb"you> ")
os.write(fd, b"/session\r")
_, second = until(rb"([0-9a-f]{32})")
assert first.group(1) != second.group(1), (first.group(1), second.group(1))
until(rb"you> ")
ctrl_c_ends_it()  # at the prompt
"#;

/// A function that does not stream: said once, each answer whole.
const PTY_WHOLE: &str = r#"
until(rb"you> ")
os.write(fd, b"hi\r")
until(rb"this agent does not stream: each answer arrives whole")
until(rb"main saw 1 messages: hi")
until(rb"you> ")
ctrl_c_ends_it()
"#;

#[test]
fn a_chat_in_a_terminal_shows_words_as_they_are_written_and_starts_new_sessions() {
    let project = project();
    let gate = project.path().join("gate");
    let gate_flag = format!("STREAM_GATE={}", gate.display());
    let server = DevServer::start(
        project.path(),
        &[
            "--agent",
            "agent_streaming.py",
            "--stream",
            "--endpoint",
            "url",
            "--env-var",
            &gate_flag,
        ],
    );
    let out = std::process::Command::new(venv_bin("python"))
        .args([
            "-c",
            &format!("{PTY_PRELUDE}{PTY_STREAMED}"),
            env!("CARGO_BIN_EXE_agentdeploy"),
            &server.url,
        ])
        .arg(&gate)
        .env_remove("AGENTDEPLOY_ENV")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"exit": 0}"#);
}

#[test]
fn a_chat_in_a_terminal_with_an_agent_that_does_not_stream_says_so_once() {
    let project = project();
    let server = DevServer::start(project.path(), &["--agent", "main_style.py"]);
    let out = std::process::Command::new(venv_bin("python"))
        .args([
            "-c",
            &format!("{PTY_PRELUDE}{PTY_WHOLE}"),
            env!("CARGO_BIN_EXE_agentdeploy"),
            &server.url,
            "unused-gate",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"exit": 0}"#);
}
