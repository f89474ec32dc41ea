//! Streamed answers and agents written as web apps (reference §5 "Streaming"): the plan and the
//! template put the function behind the Lambda Web Adapter, and the rendered function's own server
//! (`run.sh` → `agentdeploy_serve`, as the adapter starts it) answers each kind over a real socket,
//! its first event arriving while the pausing stub model is still writing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;

fn streaming_fixture(name: &str) -> PathBuf {
    repo().join("fixtures/streaming").join(name)
}

/// Deploys `agent` (a fixture of fixtures/streaming, with the stub model beside it) from a new
/// project folder to the local AWS; `flags` follow `--function-name NAME --agent AGENT`.
fn deploy_fixture(
    aws: &LocalAws,
    agent: &str,
    name: &str,
    flags: &[&str],
) -> (tempfile::TempDir, Value) {
    let project = tempfile::tempdir().unwrap();
    for file in [agent, "pausing_model.py"] {
        std::fs::copy(streaming_fixture(file), project.path().join(file)).unwrap();
    }
    let deployed = run(aws
        .lambda_command(project.path())
        .args(["--function-name", name, "--agent", agent])
        .args(flags));
    let doc = json(&deployed);
    assert_eq!(deployed.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    (project, doc)
}

fn dry_run(agent: &Path, out_dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = agentdeploy(out_dir);
    cmd.args([
        "lambda",
        "--dry-run",
        "-o",
        "json",
        "--function-name",
        "streamer",
        "--agent",
    ])
    .arg(agent)
    .arg("--out-dir")
    .arg(out_dir.join("out"))
    .args(extra);
    run(&mut cmd)
}

fn planned(agent: &Path, out_dir: &Path, extra: &[&str]) -> Value {
    let out = dry_run(agent, out_dir, extra);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{agent:?} {extra:?}: {}",
        stderr(&out)
    );
    json(&out)
}

#[test]
fn web_served_templates_carry_the_adapter_and_pass_cfn_lint_and_the_sam_transform() {
    let cases: [(&str, &[&str], &str); 3] = [
        ("agentcore_streaming.py", &[], "entrypoint"),
        ("fastapi_agent.py", &[], "asgi"),
        ("agent_streaming.py", &["--stream"], "agent"),
    ];
    let mut dirs = Vec::new();
    let mut templates = Vec::new();
    for (agent, extra, kind) in cases {
        for endpoint in ["url", "api"] {
            for (architecture, layer) in [
                ("x86_64", "LambdaAdapterLayerX86"),
                ("arm64", "LambdaAdapterLayerArm64"),
            ] {
                let dir = tempfile::tempdir().unwrap();
                let mut args = vec!["--endpoint", endpoint, "--architecture", architecture];
                args.extend_from_slice(extra);
                let doc = planned(&streaming_fixture(agent), dir.path(), &args);
                let plan = &doc["plan"];
                assert_eq!(plan["entry"]["kind"], kind, "{agent}");
                let streaming = &plan["streaming"];
                assert_eq!(streaming["invoke_mode"], "RESPONSE_STREAM", "{agent}");
                assert!(
                    streaming["web_adapter_layer"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!(":753240598075:layer:{layer}:28"))
                );
                // No 29 s warning: a streamed answer is not cut there.
                assert!(
                    !warnings(&doc).iter().any(|w| w.contains("29 s")),
                    "{agent}: {:?}",
                    warnings(&doc)
                );
                let out = dir.path().join("out");
                let script = out.join("src/run.sh");
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(&script).unwrap().permissions().mode() & 0o111,
                    0o111
                );
                assert!(out.join("src/agentdeploy_serve.py").is_file());

                let template = out.join("template.yaml");
                let transformed = sam_transform(&template);
                let function = resources_of_type(&transformed, "AWS::Lambda::Function")[0];
                let properties = &function["Properties"];
                assert_eq!(properties["Handler"], "run.sh");
                let variables = &properties["Environment"]["Variables"];
                assert_eq!(variables["AWS_LAMBDA_EXEC_WRAPPER"], "/opt/bootstrap");
                assert_eq!(variables["AWS_LWA_INVOKE_MODE"], "response_stream");
                assert_eq!(variables["AWS_LWA_READINESS_CHECK_PATH"], "/ping");
                let layers = properties["Layers"].to_string();
                assert!(
                    layers.contains(layer) && layers.contains("${AWS::Region}"),
                    "{layers}"
                );
                if endpoint == "url" {
                    let url = resources_of_type(&transformed, "AWS::Lambda::Url")[0];
                    assert_eq!(url["Properties"]["InvokeMode"], "RESPONSE_STREAM");
                    assert_eq!(
                        url["Properties"]["AuthType"], "AWS_IAM",
                        "never public by accident"
                    );
                } else {
                    let api = resources_of_type(&transformed, "AWS::ApiGateway::RestApi")[0];
                    let paths = &api["Properties"]["Body"]["paths"];
                    let (path, methods) = paths.as_object().unwrap().iter().next().unwrap();
                    assert_eq!(
                        path,
                        if kind == "asgi" {
                            "/{proxy+}"
                        } else {
                            "/invoke"
                        }
                    );
                    let integration = methods.as_object().unwrap().values().next().unwrap()["x-amazon-apigateway-integration"].clone();
                    assert_eq!(integration["responseTransferMode"], "STREAM");
                    assert!(
                        integration["uri"]
                            .to_string()
                            .contains("response-streaming-invocations")
                    );
                }
                templates.push(template);
                dirs.push(dir);
            }
        }
    }
    assert_cfn_lint_passes(&templates);
}

/// The rendered function's server, started as the adapter starts it (`run.sh` in the code
/// folder), on a free port it reports.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(code_dir: &Path, gate: &Path) -> Server {
        let path =
            std::env::join_paths([strands_site(), tools_dir().join("py313-runtime")]).unwrap();
        // `python3` is the runtime's interpreter in Lambda; here, the real 3.13.
        let bin = code_dir.parent().unwrap().join("test-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let _ = std::fs::remove_file(bin.join("python3"));
        std::os::unix::fs::symlink(python313(), bin.join("python3")).unwrap();
        let mut child = Command::new(code_dir.join("run.sh"))
            .current_dir(code_dir)
            .env(
                "PATH",
                std::env::join_paths([bin, PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
                    .unwrap(),
            )
            .env("PYTHONPATH", path)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("AWS_LWA_PORT", "0")
            .env("AWS_REGION", "us-east-1")
            .env("STREAM_GATE", gate)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("the server ended before listening:\n{}", seen.join("\n"));
            };
            if let Some(port) = line.strip_prefix("agentdeploy: serving on 127.0.0.1:") {
                break port.trim().parse().unwrap();
            }
            seen.push(line);
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, port }
    }

    fn post(&self, path: &str, body: &str, headers: &str) -> TcpStream {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(120)))
            .unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: fn\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
        .unwrap();
        stream
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads from `stream` until `buffer` holds `needle`; false at the end of the stream.
fn read_until(stream: &mut TcpStream, buffer: &mut Vec<u8>, needle: &[u8]) -> bool {
    let mut chunk = [0u8; 4096];
    while !buffer.windows(needle.len()).any(|w| w == needle) {
        match stream.read(&mut chunk).unwrap() {
            0 => return false,
            n => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// The JSON of every `data: ...` event in `raw`.
fn events(raw: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(raw);
    text.split("data: ")
        .skip(1)
        .map(|part| serde_json::from_str(part.split("\n\n").next().unwrap()).unwrap())
        .collect()
}

/// Posts `body`, reads until `first` has arrived, checks the model is still held, opens the gate
/// and reads to the end: (what arrived before the gate opened, everything).
fn streamed(server: &Server, gate: &Path, path: &str, body: &str, first: &str) -> (String, String) {
    let mut stream = server.post(path, body, "");
    let mut buffer = Vec::new();
    assert!(
        read_until(&mut stream, &mut buffer, first.as_bytes()),
        "{}",
        String::from_utf8_lossy(&buffer)
    );
    assert!(!gate.exists());
    let early = String::from_utf8_lossy(&buffer).into_owned();
    std::fs::write(gate, "").unwrap();
    stream.read_to_end(&mut buffer).unwrap();
    (early, String::from_utf8_lossy(&buffer).into_owned())
}

/// (fixture, flags, request path, body, what the first part carries, the whole answer's end)
type StreamCase = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

#[test]
fn the_deployed_server_streams_each_kind_before_the_agent_has_finished() {
    let cases: [StreamCase; 3] = [
        (
            "agentcore_streaming.py",
            &[],
            "/",
            r#"{"prompt": "carol"}"#,
            r#""delta": "core saw 1 messages: ""#,
            r#""delta": "carol""#,
        ),
        (
            "fastapi_agent.py",
            &[],
            "/ask",
            r#"{"prompt": "erin"}"#,
            "web saw 1 messages: ",
            "erin",
        ),
        (
            "agent_streaming.py",
            &["--stream"],
            "/",
            r#"{"input": "alice"}"#,
            r#"{"data": "stub saw 1 messages: "}"#,
            r#"{"output": "stub saw 1 messages: alice"}"#,
        ),
    ];
    for (agent, flags, path, body, first, last) in cases {
        let dir = tempfile::tempdir().unwrap();
        planned(&streaming_fixture(agent), dir.path(), flags);
        let gate = dir.path().join("gate");
        let server = Server::start(&dir.path().join("out/src"), &gate);
        let (early, whole) = streamed(&server, &gate, path, body, first);
        assert!(
            !early.contains(last),
            "{agent}: the end came before the gate opened: {early}"
        );
        assert!(whole.contains(last), "{agent}: {whole}");
        if agent != "fastapi_agent.py" {
            assert!(
                whole
                    .to_ascii_lowercase()
                    .contains("content-type: text/event-stream"),
                "{whole}"
            );
        }
        // A second caller on the same warm process starts from the agent as built.
        let mut stream = server.post(
            path,
            &body
                .replace("carol", "dave")
                .replace("erin", "frank")
                .replace("alice", "bob"),
            "",
        );
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("saw 1 messages"), "{agent}: {answer}");
        std::fs::remove_file(&gate).unwrap();
    }
}

#[test]
fn a_main_entry_streams_one_event_and_ping_answers_the_adapters_readiness_check() {
    let dir = tempfile::tempdir().unwrap();
    let doc = planned(
        &streaming_fixture("main_streaming.py"),
        dir.path(),
        &["--stream", "--endpoint", "url"],
    );
    assert_eq!(doc["plan"]["streaming"]["why"], "--stream");
    let gate = dir.path().join("gate");
    let server = Server::start(&dir.path().join("out/src"), &gate);
    let mut stream = server.post("/", r#"{"input": "hi", "data": {"n": 1}}"#, "");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert_eq!(
        events(&answer),
        vec![serde_json::json!({"output": {"echo": "hi", "data": {"n": 1}}})]
    );
    let mut ping = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        ping,
        "GET /ping HTTP/1.1\r\nHost: fn\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    ping.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("Healthy"), "{reply}");
}

#[test]
fn what_cannot_stream_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let raw = repo().join("fixtures/conversations/raw_handler.py");
    let out = dry_run(&raw, dir.path(), &["--stream"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to stream"),
        "{}",
        stderr(&out)
    );
    let out = dry_run(
        &streaming_fixture("fastapi_agent.py"),
        dir.path(),
        &["--conversation", "session"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("web app"), "{}", stderr(&out));
    let out = dry_run(
        &streaming_fixture("agent_streaming.py"),
        dir.path(),
        &[
            "--stream",
            "--web-adapter-layer",
            "arn:aws:lambda:us-east-1:1:layer:x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--web-adapter-layer"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("out").exists(),
        "a refused plan writes nothing"
    );
}

#[test]
fn an_agentcore_sample_deploys_to_the_local_aws_and_answers_through_the_adapter() {
    let aws = LocalAws::start();
    // The gate is a file the function has: the stub model does not pause here.
    let (project, doc) = deploy_fixture(
        &aws,
        "agentcore_streaming.py",
        "core",
        &[
            "--endpoint",
            "url",
            "--env-var",
            "STREAM_GATE=pausing_model.py",
        ],
    );
    let dir = project.path();
    assert_eq!(doc["plan"]["entry"]["kind"], "entrypoint");
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("agentcore_streaming.py:22: this starts a server at import")),
        "{:?}",
        warnings(&doc)
    );
    let requirements = pinned_requirements(&doc);
    assert!(
        requirements
            .iter()
            .any(|r| r.starts_with("bedrock-agentcore==")),
        "{requirements:?}"
    );
    // Two callers one after another on the warm execution environment: each gets the agent as
    // built, and the answer is the entrypoint's items in order.
    for (caller, input) in [("first", "carol"), ("second", "dave")] {
        let mut invoke = agentdeploy(dir);
        aws.configure(&mut invoke);
        let answer = run(invoke
            .env("PATH", local_aws::deploy_path())
            .args(["invoke", "core", "--input", input, "-o", "json"]));
        let answer_doc = json(&answer);
        assert_eq!(answer.status.code(), Some(0), "{caller}: {answer_doc:#}");
        let deltas: Vec<&str> = answer_doc["output"]
            .as_array()
            .unwrap_or_else(|| panic!("{caller}: {answer_doc:#}"))
            .iter()
            .map(|item| item["delta"].as_str().unwrap())
            .collect();
        assert_eq!(deltas, ["core saw 1 messages: ", input], "{caller}");
    }
}

/// Invokes `function` on the local AWS with `event`; the streamed answer's last event.
fn last_streamed_event(aws: &LocalAws, function: &str, event: &Value) -> Value {
    let script = format!(
        "answer = client('lambda').invoke(FunctionName={function:?}, Payload=json.dumps({event}))['Payload'].read()\n\
         prelude, _, body = answer.partition(b'\\0' * 8)\n\
         assert json.loads(prelude)['statusCode'] == 200, answer\n\
         events = [json.loads(e[len(b'data: '):]) for e in body.split(b'\\n\\n') if e.startswith(b'data: ')]\n\
         print(json.dumps(events[-1]))\n",
        event = serde_json::to_string(&event.to_string()).unwrap(),
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

#[test]
fn streamed_sessions_continue_across_cold_starts_for_their_caller_only() {
    let aws = LocalAws::start_cold();
    let _project = deploy_fixture(
        &aws,
        "agent_streaming.py",
        "streamed-sessions",
        &[
            "--stream",
            "--conversation",
            "session",
            "--endpoint",
            "url",
            "--env-var",
            "STREAM_GATE=pausing_model.py",
        ],
    );
    let turn = |event: Value| last_streamed_event(&aws, "streamed-sessions", &event);
    // Every Invoke here is a cold start: the second turn continues from the stored session,
    // saved once the first stream had ended.
    let first = turn(serde_json::json!({"input": "alice", "session_id": "s-1"}));
    assert_eq!(
        first,
        serde_json::json!({"output": "stub saw 1 messages: alice", "session_id": "s-1"})
    );
    let second = turn(serde_json::json!({"input": "and then?", "session_id": "s-1"}));
    assert_eq!(
        second["output"], "stub saw 3 messages: and then?",
        "{second}"
    );
    // A Function URL caller (another IAM identity) naming the same session id gets its own.
    let through_url = serde_json::json!({
        "rawPath": "/",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST"},
            "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/bob"}},
        },
        "body": serde_json::json!({"input": "bob", "session_id": "s-1"}).to_string(),
        "isBase64Encoded": false,
    });
    let other = turn(through_url);
    assert_eq!(other["output"], "stub saw 1 messages: bob", "{other}");
}

#[test]
fn invoke_stream_prints_the_first_words_while_the_agent_is_still_writing() {
    let aws = LocalAws::start();
    // The local AWS runs the function on this machine: the model waits for a file of the test's.
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("gate");
    let gate_variable = format!("STREAM_GATE={}", gate.display());
    let (project, _) = deploy_fixture(
        &aws,
        "agent_streaming.py",
        "words",
        &["--stream", "--endpoint", "url", "--env-var", &gate_variable],
    );
    let dir = project.path();

    let mut invoke = agentdeploy(dir);
    aws.configure(&mut invoke);
    let mut child = invoke
        .env("PATH", local_aws::deploy_path())
        .args([
            "invoke", "words", "--input", "alice", "--stream", "-o", "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first, serde_json::json!({"data": "stub saw 1 messages: "}));
    assert!(
        !gate.exists(),
        "the first words came while the model was still held"
    );
    std::fs::write(&gate, "").unwrap();
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(
        rest,
        vec![
            serde_json::json!({"data": "alice"}),
            serde_json::json!({"output": "stub saw 1 messages: alice"})
        ]
    );
    assert!(child.wait().unwrap().success());

    // As text: the words as they come, then a newline.
    let mut invoke = agentdeploy(dir);
    aws.configure(&mut invoke);
    let text = run(invoke
        .env("PATH", local_aws::deploy_path())
        .args(["invoke", "words", "--input", "bob", "--stream"]));
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    assert_eq!(stdout(&text), "stub saw 1 messages: bob\n");
}
