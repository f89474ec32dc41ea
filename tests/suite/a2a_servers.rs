//! An A2A server deploys as its author wrote it (`A2AServer(agent)`, `serve()` at import): its
//! app is served behind the Web Adapter, the agent card names the endpoint the caller reached,
//! and each JSON-RPC message meets the agent as built (on the local AWS, with the stub model).

use serde_json::{Value, json};

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::conversations::project_copy;

const HOST: &str = "abcdefghij.lambda-url.us-east-1.on.aws";

/// One request through the Function URL as Lambda hands it to the function: (status, body).
fn through_url(aws: &LocalAws, method: &str, path: &str, body: Option<Value>) -> (u64, Value) {
    let event = json!({
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": HOST, "content-type": "application/json"},
        "requestContext": {
            "http": {"method": method},
            "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/caller"}},
        },
        "body": body.map(|b| b.to_string()).unwrap_or_default(),
        "isBase64Encoded": false,
    });
    let script = format!(
        "answer = client('lambda').invoke_with_response_stream(FunctionName='helper', Qualifier='live', Payload=json.dumps(json.loads({event:?})))\n\
         raw = b''.join(e['PayloadChunk']['Payload'] for e in answer['EventStream'] if 'PayloadChunk' in e)\n\
         prelude, _, body = raw.partition(b'\\0' * 8)\n\
         print(json.dumps([json.loads(prelude)['statusCode'], json.loads(body)]))\n",
        event = event.to_string()
    );
    let [status, body]: [Value; 2] = serde_json::from_str(aws.boto3(&script).trim()).unwrap();
    (status.as_u64().unwrap(), body)
}

fn message(text: &str, id: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "message/send",
        "params": {"message": {
            "role": "user",
            "messageId": id,
            "parts": [{"kind": "text", "text": text}],
        }},
    })
}

/// Every text part of a JSON-RPC result (its artifacts, or the message it answered with).
fn texts(result: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut visit = vec![result];
    while let Some(value) = visit.pop() {
        match value {
            Value::Object(map) => {
                if map.get("kind") == Some(&json!("text"))
                    && let Some(text) = map.get("text").and_then(Value::as_str)
                {
                    found.push(text.to_string());
                }
                visit.extend(map.values());
            }
            Value::Array(items) => visit.extend(items),
            _ => {}
        }
    }
    found
}

#[test]
fn an_a2a_server_deploys_with_its_card_at_the_endpoint_and_each_message_meets_the_agent_as_built() {
    // The published sample's pyproject lists strands-agents without the `a2a` extra: the plan
    // names what the import needs.
    let published = project_copy();
    let out = crate::dry_run::dry_run(
        &published.path().join("a2a_server.py"),
        &published.path().join("out"),
        &["--endpoint", "url"],
    );
    let plan = json(&out);
    assert!(
        plan["warnings"].to_string().contains(
            "lists `strands-agents` without its `a2a` extra, which `strands.multiagent.a2a` ("
        ),
        "{plan:#}"
    );
    assert!(
        plan["warnings"]
            .to_string()
            .contains("a2a_server.py:6) needs")
    );
    // Beside only its model, its requirements are inferred, extra and all.
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    for file in ["a2a_server.py", "stub_model.py"] {
        std::fs::copy(published.path().join(file), work.path().join(file)).unwrap();
    }
    let out = run(aws.lambda_command(work.path()).args([
        "--function-name",
        "helper",
        "--agent",
        "a2a_server.py",
        "--endpoint",
        "url",
    ]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["plan"]["entry"]["kind"], "a2a", "{doc:#}");
    assert_eq!(doc["plan"]["entry"]["name"], "server");
    assert!(
        doc["plan"]["requirements"]
            .to_string()
            .contains("strands-agents[a2a]"),
        "{doc:#}"
    );
    assert!(
        doc["warnings"].to_string().contains("a2a_server.py:15"),
        "serve() at import is named: {doc:#}"
    );

    let (status, card) = through_url(&aws, "GET", "/.well-known/agent-card.json", None);
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["name"], "Helper", "{card}");
    assert_eq!(card["url"], format!("https://{HOST}/"), "{card}");

    for (text, id) in [("first caller", "m-1"), ("second caller", "m-2")] {
        let (status, answer) = through_url(&aws, "POST", "/", Some(message(text, id)));
        assert_eq!(status, 200, "{answer}");
        assert!(
            texts(&answer["result"]).contains(&format!("a2a saw 1 messages: {text}")),
            "each message meets the agent as built: {answer:#}"
        );
    }
}
