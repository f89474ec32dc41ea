//! What a direct Invoke of a function behind the Web Adapter in response-stream mode gets back:
//! Lambda's HTTP-integration stream, a JSON prelude (`statusCode`, `headers`), eight NUL bytes,
//! then the body as the server wrote it (for agentdeploy's kinds, Server-Sent Events). `invoke`
//! turns it into the document a buffered function answers, so the command reads both alike.

use serde_json::{Value, json};

const SEPARATOR: [u8; 8] = [0; 8];

/// The answer as a buffered function gives it (an error stays `{"error": ...}`, which `invoke`
/// reports); `None` when `payload` is not a streamed answer.
pub fn unwrap(payload: &[u8]) -> Option<Vec<u8>> {
    let at = payload
        .windows(SEPARATOR.len())
        .position(|w| w == SEPARATOR)?;
    let prelude: Value = serde_json::from_slice(&payload[..at]).ok()?;
    prelude.get("statusCode")?.as_u64()?;
    let body = &payload[at + SEPARATOR.len()..];
    let events = server_sent_events(body);
    let answer = match events.last() {
        None => serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
        // agentdeploy's kinds end with the whole answer (or the error).
        Some(last) if last.get("output").is_some() || last.get("error").is_some() => last.clone(),
        // An entrypoint's items, in order.
        Some(_) => json!({ "output": events }),
    };
    serde_json::to_vec(&answer).ok()
}

/// The JSON of each `data:` event (events whose data is not JSON are kept as text).
fn server_sent_events(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            (!data.is_empty()).then(|| {
                let joined = data.join("\n");
                serde_json::from_str(&joined).unwrap_or(Value::String(joined))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(status: u16, body: &str) -> Vec<u8> {
        let mut payload = format!(r#"{{"statusCode": {status}, "headers": {{}}}}"#).into_bytes();
        payload.extend_from_slice(&SEPARATOR);
        payload.extend_from_slice(body.as_bytes());
        payload
    }

    fn answer(payload: &[u8]) -> Value {
        serde_json::from_slice(&unwrap(payload).unwrap()).unwrap()
    }

    #[test]
    fn an_agents_stream_answers_its_final_event_and_an_entrypoints_its_items() {
        let agent = streamed(
            200,
            "data: {\"data\": \"he\"}\n\ndata: {\"data\": \"llo\"}\n\ndata: {\"output\": \"hello\"}\n\n",
        );
        assert_eq!(answer(&agent), json!({"output": "hello"}));
        let items = streamed(
            200,
            "data: {\"delta\": \"a\"}\n\ndata: {\"delta\": \"b\"}\n\n",
        );
        assert_eq!(
            answer(&items),
            json!({"output": [{"delta": "a"}, {"delta": "b"}]})
        );
        let plain = streamed(200, r#"{"answer": 42}"#);
        assert_eq!(answer(&plain), json!({"answer": 42}));
        let failed = streamed(
            200,
            "data: {\"error\": \"ValueError\", \"request_id\": \"r\"}\n\n",
        );
        assert_eq!(
            answer(&failed),
            json!({"error": "ValueError", "request_id": "r"})
        );
        // A buffered function's answer is not a stream.
        assert!(unwrap(br#"{"output": "hi"}"#).is_none());
    }
}
