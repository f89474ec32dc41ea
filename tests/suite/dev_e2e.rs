//! `agentdeploy dev` (reference §13): the agent served on this machine answers as its deployed
//! function does — the same status codes and bodies for the same requests, compared against the
//! function deployed to the local AWS — and picks up every change, reporting a broken import
//! with its file and line until the next change fixes it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::dev_server::{DevServer, http};
use crate::common::local_aws::{self, LocalAws};
use crate::common::*;

/// A project holding the conversation and streaming fixtures with their stub models.
fn project() -> tempfile::TempDir {
    project_of(&[
        ("conversations", "main_style.py"),
        ("conversations", "stub_model.py"),
        ("streaming", "agent_streaming.py"),
        ("streaming", "agentcore_streaming.py"),
        ("streaming", "fastapi_agent.py"),
        ("streaming", "pausing_model.py"),
    ])
}

fn deploy(aws: &LocalAws, project: &Path, name: &str, flags: &[&str]) {
    let out = run(aws
        .lambda_command(project)
        .args(["--function-name", name])
        .args(flags));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// One request as a test sends it: path, body and headers.
struct Request {
    path: &'static str,
    body: String,
    headers: Vec<(&'static str, &'static str)>,
}

fn request(path: &'static str, body: Value) -> Request {
    Request {
        path,
        body: body.to_string(),
        headers: Vec::new(),
    }
}

/// What the deployed function answers each request with, as its endpoint delivers it (`api`:
/// API Gateway's event and response; `url`: a Function URL's event, the streamed response).
fn deployed_answers(
    aws: &LocalAws,
    function: &str,
    endpoint: &str,
    requests: &[Request],
) -> Vec<(u16, String)> {
    let events: Vec<Value> = requests
        .iter()
        .map(|r| {
            let headers: serde_json::Map<String, Value> = std::iter::once(("content-type".to_string(), json!("application/json")))
                .chain(r.headers.iter().map(|(k, v)| (k.to_lowercase(), json!(v))))
                .collect();
            if endpoint == "api" {
                json!({"resource": "/invoke", "path": r.path, "httpMethod": "POST", "headers": headers,
                       "requestContext": {"requestId": "r-1", "identity": {}},
                       "body": r.body, "isBase64Encoded": false})
            } else {
                json!({"version": "2.0", "rawPath": r.path, "rawQueryString": "", "headers": headers,
                       "requestContext": {"http": {"method": "POST", "path": r.path}},
                       "body": r.body, "isBase64Encoded": false})
            }
        })
        .collect();
    let script = format!(
        "answers = []\n\
         for event in json.loads({events:?}):\n    \
             raw = client('lambda').invoke(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(event))['Payload'].read()\n    \
             if {streamed}:\n        \
                 prelude, _, body = raw.partition(b'\\0' * 8)\n        \
                 answers.append([json.loads(prelude)['statusCode'], body.decode()])\n    \
             else:\n        \
                 answer = json.loads(raw)\n        \
                 answers.append([answer['statusCode'], answer['body']])\n\
         print(json.dumps(answers))\n",
        events = serde_json::to_string(&events).unwrap(),
        streamed = if endpoint == "url" { "True" } else { "False" },
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

/// A body as a test compares it: JSON parsed, Server-Sent Events as the list of their values,
/// anything else as text.
fn comparable(body: &str) -> Value {
    if body.starts_with("data: ") {
        return Value::Array(
            body.split("\n\n")
                .filter_map(|event| event.strip_prefix("data: "))
                .map(|data| serde_json::from_str(data).unwrap())
                .collect(),
        );
    }
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

/// Serves `agent` with `dev` and sends it `requests`; the deployed function's answers to the
/// same requests must be the same.
fn answers_as_deployed(
    aws: &LocalAws,
    project: &Path,
    name: &str,
    flags: &[&str],
    endpoint: &str,
    requests: &[Request],
) -> Vec<(u16, Value)> {
    deploy(aws, project, name, flags);
    let deployed: Vec<(u16, Value)> = deployed_answers(aws, name, endpoint, requests)
        .into_iter()
        .map(|(status, body)| (status, comparable(&body)))
        .collect();
    let mut dev_args = vec![name];
    dev_args.extend(flags);
    let mut server = DevServer::start(project, &dev_args);
    let served: Vec<(u16, Value)> = requests
        .iter()
        .map(|r| {
            let (status, body) = server.post(r.path, &r.body, &r.headers);
            (status, comparable(&body))
        })
        .collect();
    assert_eq!(
        served, deployed,
        "{name}: dev answered otherwise than the deployed function"
    );
    assert_eq!(server.interrupt().code(), Some(0));
    served
}

#[test]
fn dev_answers_as_the_deployed_function_a_main_with_sessions_and_an_agent() {
    let aws = LocalAws::start();
    let project = project();
    let turns = [
        request("/invoke", json!({"input": "alice", "session_id": "s-1"})),
        request(
            "/invoke",
            json!({"input": "and then?", "session_id": "s-1"}),
        ),
        request("/invoke", json!({"data": {"no": "input"}})),
        request("/invoke", json!({"input": 42})),
    ];
    let main = answers_as_deployed(
        &aws,
        project.path(),
        "dev-main",
        &["--agent", "main_style.py", "--conversation", "session"],
        "api",
        &turns,
    );
    // The second turn continued the first one's conversation: from the local session store.
    assert_eq!(
        main[1].1["output"]["main"], "main saw 3 messages: and then?",
        "{main:?}"
    );
    assert_eq!(main[2].0, 400, "{main:?}");
    assert!(
        project
            .path()
            .join(".agentdeploy/dev/dev-main/sessions/sessions")
            .is_dir(),
        "sessions are kept in the dev folder, as the bucket keeps them"
    );

    // `chat NAME`: the deployed agent through Invoke of live, one session for the conversation.
    let (code, lines, err) =
        crate::chat_e2e::piped_chat(project.path(), &["dev-main"], "bob\nand then?\n", |cmd| {
            aws.configure(cmd);
            cmd.env("PATH", local_aws::deploy_path());
        });
    assert_eq!(code, 0, "{err}");
    let said: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(said[0]["main"], "main saw 1 messages: bob", "{lines:?}");
    assert_eq!(
        said[1]["main"], "main saw 3 messages: and then?",
        "{lines:?}"
    );

    let agent = answers_as_deployed(
        &aws,
        project.path(),
        "dev-agent",
        &[
            "--agent",
            "agent_streaming.py",
            "--env-var",
            "STREAM_GATE=pausing_model.py",
        ],
        "api",
        &[
            request("/invoke", json!({"input": "carol"})),
            request("/invoke", json!({"input": "dave"})),
        ],
    );
    assert_eq!(
        agent[1].1["output"], "stub saw 1 messages: dave",
        "{agent:?}"
    );
}

#[test]
fn dev_answers_as_the_deployed_function_behind_the_web_adapter() {
    let aws = LocalAws::start();
    let project = project();
    let gate = [
        "--env-var",
        "STREAM_GATE=pausing_model.py",
        "--endpoint",
        "url",
    ];
    let session = ("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "s-7");
    let mut core_request = request("/invocations", json!({"prompt": "erin"}));
    core_request.headers.push(session);
    let core = answers_as_deployed(
        &aws,
        project.path(),
        "dev-core",
        &[&["--agent", "agentcore_streaming.py"][..], &gate].concat(),
        "url",
        &[core_request],
    );
    assert_eq!(
        core[0].1[1],
        json!({"delta": "erin", "session": "s-7"}),
        "{core:?}"
    );

    let web = answers_as_deployed(
        &aws,
        project.path(),
        "dev-web",
        &[&["--agent", "fastapi_agent.py"][..], &gate].concat(),
        "url",
        &[
            request("/ask", json!({"prompt": "frank"})),
            request("/ask", json!({"wrong": 1})),
        ],
    );
    assert_eq!(web[0], (200, json!("web saw 1 messages: frank")), "{web:?}");
    assert_eq!(web[1].0, 422, "{web:?}");

    let streamed = answers_as_deployed(
        &aws,
        project.path(),
        "dev-stream",
        &[&["--agent", "agent_streaming.py", "--stream"][..], &gate].concat(),
        "url",
        &[
            request("/", json!({"input": "gina"})),
            request("/", json!({"nothing": true})),
        ],
    );
    assert_eq!(
        streamed[0].1.as_array().unwrap().last().unwrap()["output"],
        "stub saw 1 messages: gina",
        "{streamed:?}"
    );
    assert_eq!(streamed[1].0, 400, "{streamed:?}");
}

/// Writes `text` as an editor saves a file: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let saving = path.with_extension("saving");
    std::fs::write(&saving, text).unwrap();
    std::fs::rename(&saving, path).unwrap();
}

/// The processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn a_change_is_served_at_once_and_a_broken_import_answers_503_until_fixed() {
    let project = project();
    let dir = project.path();
    let agent = dir.join("main_style.py");
    let original = std::fs::read_to_string(&agent).unwrap();
    let mut server = DevServer::start(dir, &["--agent", "main_style.py"]);
    let ask = |server: &DevServer| {
        let (status, body) = server.post("/invoke", r#"{"input": "hi"}"#, &[]);
        (status, comparable(&body))
    };
    assert_eq!(
        ask(&server),
        (
            200,
            json!({"output": {"main": "main saw 1 messages: hi", "researcher": "researcher saw 1 messages: hi"}})
        )
    );

    // A request sent while the new code loads waits for it (the socket is agentdeploy's). Each
    // change is written as an editor saves a file (a new file renamed over it): one change.
    save(
        &agent,
        &original.replace("\"main\": str(answer)", "\"main\": \"v2 \" + str(answer)"),
    );
    server.wait_for("reloading", Duration::from_secs(30));
    assert_eq!(
        ask(&server).1["output"]["main"],
        "v2 main saw 1 messages: hi"
    );

    // An import that raises: 503 naming the agent's own file and line, the server stays up.
    save(
        &agent,
        &format!("{original}\nraise RuntimeError('no model configured')\n"),
    );
    server.wait_for("import failed at", Duration::from_secs(30));
    let line = original.lines().count() + 2;
    assert_eq!(
        ask(&server),
        (
            503,
            json!({"error": "ImportFailed", "location": format!("main_style.py:{line}"), "message": "RuntimeError: no model configured"})
        )
    );
    // The agent file deleted: said, served as 503, and nothing else lost.
    std::fs::remove_file(&agent).unwrap();
    server.wait_for("cannot serve the change", Duration::from_secs(30));
    let (status, body) = ask(&server);
    assert_eq!(status, 503);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("main_style.py")),
        "{body}"
    );
    // Fixed: answered again.
    save(&agent, &original);
    server.wait_for("reloading", Duration::from_secs(30));
    assert_eq!(ask(&server).0, 200);
    // A file the function is not made of (a log written beside it) restarts nothing.
    std::fs::write(dir.join("notes.log"), "x").unwrap();
    let request_line = {
        ask(&server);
        server.wait_for("request ", Duration::from_secs(30))
    };
    assert!(request_line.contains(" 200 "), "{request_line}");

    // Ctrl-C: the server and the function's process are gone.
    let dev_dir = dir
        .join(".agentdeploy/dev/main_style")
        .display()
        .to_string();
    assert!(
        !processes_naming(&dev_dir).is_empty(),
        "the host runs from the dev folder"
    );
    assert_eq!(server.interrupt().code(), Some(0));
    let seen = server.rest();
    assert!(!seen.iter().any(|l| l.contains("notes.log")), "{seen:?}");
    assert_eq!(
        processes_naming(&dev_dir),
        Vec::<String>::new(),
        "no process outlives `dev`"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "the port is closed"
    );
}

#[test]
fn a_port_in_use_and_a_second_dev_on_one_agent_are_refused_with_exit_2() {
    let project = project();
    let dir = project.path();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(agentdeploy(dir)
        .env("PATH", local_aws::deploy_path())
        .args(["dev", "--agent", "main_style.py", "--port", &port]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("--port: port {port} on 127.0.0.1 is in use")),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("pick another port with --port"),
        "{}",
        stderr(&out)
    );

    let first = DevServer::start(dir, &["--agent", "main_style.py"]);
    let second = run(agentdeploy(dir)
        .env("PATH", local_aws::deploy_path())
        .args(["dev", "--agent", "main_style.py", "--port", "0"]));
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("`agentdeploy dev` already serves `main_style`")
            && stderr(&second).contains(&first.url),
        "{}",
        stderr(&second)
    );
    // The first one still serves.
    assert_eq!(
        http(first.port, "POST", "/invoke", r#"{"input": "x"}"#, &[]).0,
        200
    );
}

#[test]
fn a_new_dependency_is_resolved_before_the_restart_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("tiny.py");
    std::fs::write(
        &agent,
        "def main(user_input, input_data=None):\n    return 'plain: ' + user_input\n",
    )
    .unwrap();
    let mut server = DevServer::start(dir.path(), &["--agent", "tiny.py"]);
    let ask = |server: &DevServer| server.post("/invoke", r#"{"input": "hi"}"#, &[]);
    assert_eq!(
        ask(&server),
        (200, r#"{"output": "plain: hi"}"#.to_string())
    );
    std::fs::write(
        &agent,
        "import six\n\ndef main(user_input, input_data=None):\n    return six.ensure_str('six: ' + user_input)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "six\n").unwrap();
    server.wait_for(
        "the requirements changed: resolving the dependencies again",
        Duration::from_secs(60),
    );
    assert_eq!(ask(&server), (200, r#"{"output": "six: hi"}"#.to_string()));
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn a_secret_reaches_the_agent_and_nothing_dev_prints_or_writes() {
    const VALUE: &str = "s3cr3t-dev-value-8841";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keyed.py"),
        "import os\nprint('the token is', os.environ['API_TOKEN'])\n\n\
         def main(user_input, input_data=None):\n    return 'token length %d' % len(os.environ['API_TOKEN'])\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".env"), format!("API_TOKEN={VALUE}\n")).unwrap();
    let mut server = DevServer::start(
        dir.path(),
        &["--agent", "keyed.py", "--secret", "API_TOKEN"],
    );
    let (status, body) = server.post("/invoke", r#"{"input": "hi"}"#, &[]);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"output": "token length 21"}"#)
    );
    server.wait_for("the token is", Duration::from_secs(30));
    assert_eq!(server.interrupt().code(), Some(0));
    let printed = server.rest().join("\n");
    assert!(!printed.contains(VALUE), "{printed}");
    for file in files_below(&dir.path().join(".agentdeploy")) {
        let text = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(VALUE),
            "{} holds the secret",
            file.display()
        );
    }
}

#[test]
fn a_variable_changed_in_the_config_reaches_the_agent_on_the_next_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("greeter.py"),
        "import os\n\ndef main(user_input, input_data=None):\n    return os.environ['GREETING'] + ' ' + user_input\n",
    )
    .unwrap();
    let config = |greeting: &str| {
        std::fs::write(
            dir.path().join("agentdeploy.toml"),
            format!("[agents.greeter]\nagent = \"greeter.py\"\nenv_vars = {{ GREETING = \"{greeting}\" }}\n"),
        )
        .unwrap();
    };
    config("hello");
    let mut server = DevServer::start(dir.path(), &["greeter"]);
    server.wait_for("imported in", Duration::from_secs(60));
    let ask = |server: &DevServer| server.post("/invoke", r#"{"input": "ann"}"#, &[]);
    assert_eq!(
        ask(&server),
        (200, r#"{"output": "hello ann"}"#.to_string())
    );
    // Same requirements: the dependencies are kept, the function's variables made again.
    config("bonjour");
    server.wait_for("reloading", Duration::from_secs(30));
    server.wait_for("imported in", Duration::from_secs(60));
    assert_eq!(
        ask(&server),
        (200, r#"{"output": "bonjour ann"}"#.to_string())
    );
    assert_eq!(server.interrupt().code(), Some(0));
    let said = server.rest().join("\n");
    assert!(!said.contains("the requirements changed"), "{said}");
}
