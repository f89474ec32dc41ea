//! Server-Sent Events as agentdeploy's streamed answers are written (`data: JSON` lines, each
//! event ended by a blank line): read by `invoke` (through Lambda's response stream) and by
//! `chat` (from what `dev` serves) alike.

use serde_json::{Value, json};

/// The JSON of each event's `data:` lines (an event whose data is not JSON is kept as text).
pub fn events(body: &[u8]) -> Vec<Value> {
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

/// The answer a buffered function gives for the same request: agentdeploy's kinds end their
/// events with the whole answer (or the error); an entrypoint's items are the output, in order.
pub fn answer_of(events: &[Value]) -> Value {
    match events.last() {
        Some(last) if last.get("output").is_some() || last.get("error").is_some() => last.clone(),
        _ => json!({ "output": events }),
    }
}

/// Events as their bytes arrive: each one's JSON once it is complete.
#[derive(Default)]
pub struct EventStream {
    pending: Vec<u8>,
}

impl EventStream {
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Value> {
        self.pending.extend_from_slice(chunk);
        let Some(end) = self.pending.windows(2).rposition(|w| w == b"\n\n") else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.pending.drain(..end + 2).collect();
        events(&complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_handed_out_only_once_complete() {
        let mut stream = EventStream::default();
        assert!(stream.feed(b"data: {\"data\": \"he").is_empty());
        assert_eq!(
            stream.feed(b"llo\"}\n\ndata: {\"da"),
            vec![json!({"data": "hello"})]
        );
        assert_eq!(stream.feed(b"ta\": \"!\"}\n\n"), vec![json!({"data": "!"})]);
    }

    #[test]
    fn the_answer_is_the_last_event_when_it_is_whole_else_the_items() {
        let streamed = events(b"data: {\"data\": \"a\"}\n\ndata: {\"output\": \"a\"}\n\n");
        assert_eq!(answer_of(&streamed), json!({"output": "a"}));
        let items = events(b"data: {\"n\": 1}\n\ndata: not json\n\n");
        assert_eq!(answer_of(&items), json!({"output": [{"n": 1}, "not json"]}));
    }
}
