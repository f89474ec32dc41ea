//! What a direct Invoke of a function behind the Web Adapter in response-stream mode gets back:
//! Lambda's HTTP-integration stream, a JSON prelude (`statusCode`, `headers`), eight NUL bytes,
//! then the body as the server wrote it (for agentdeploy's kinds, Server-Sent Events). `invoke`
//! turns it into the document a buffered function answers, so the command reads both alike.

use serde_json::Value;

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
    let events = crate::sse::events(body);
    let answer = if events.is_empty() {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    } else {
        crate::sse::answer_of(&events)
    };
    serde_json::to_vec(&answer).ok()
}

/// How a streamed prelude starts; a buffered function's answer does not.
const PRELUDE_START: &[u8] = b"{\"statusCode\"";

/// What the answer read so far turned out to be.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Not known yet: the prelude (or enough of the answer to tell) has not arrived.
    #[default]
    Undecided,
    /// A buffered function's whole answer: given at the end.
    Buffered,
    /// A streamed body after its prelude: Server-Sent Events, or text pieces.
    Streamed { events: bool },
}

/// Reads a streamed answer as its chunks arrive: each Server-Sent Event's JSON as soon as the
/// event is complete (a body that is not an event stream, as text pieces); the whole answer at
/// the end, as `unwrap` gives it.
#[derive(Default)]
pub struct Decoder {
    all: Vec<u8>,
    form: Form,
    /// How far the body has been handed out.
    read_to: usize,
}

impl Decoder {
    /// The events (or text pieces) completed by `chunk`.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Value> {
        self.all.extend_from_slice(chunk);
        if self.form == Form::Undecided {
            if !self.all.starts_with(PRELUDE_START) && self.all.len() >= PRELUDE_START.len() {
                self.form = Form::Buffered;
            } else if let Some(at) = self
                .all
                .windows(SEPARATOR.len())
                .position(|w| w == SEPARATOR)
            {
                let prelude: Value = serde_json::from_slice(&self.all[..at]).unwrap_or_default();
                let events = prelude["headers"]["content-type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("text/event-stream"));
                self.form = Form::Streamed { events };
                self.read_to = at + SEPARATOR.len();
            }
        }
        match self.form {
            Form::Undecided | Form::Buffered => Vec::new(),
            Form::Streamed { events: false } => {
                let piece = String::from_utf8_lossy(&self.all[self.read_to..]).into_owned();
                self.read_to = self.all.len();
                if piece.is_empty() {
                    Vec::new()
                } else {
                    vec![Value::String(piece)]
                }
            }
            Form::Streamed { events: true } => {
                let mut found = Vec::new();
                while let Some(end) = self.all[self.read_to..]
                    .windows(2)
                    .position(|w| w == b"\n\n")
                {
                    let event = &self.all[self.read_to..self.read_to + end + 2];
                    found.extend(crate::sse::events(event));
                    self.read_to += end + 2;
                }
                found
            }
        }
    }

    /// The whole answer, as a buffered function gives it.
    pub fn finish(self) -> Vec<u8> {
        unwrap(&self.all).unwrap_or(self.all)
    }

    /// Whether the answer came as a stream of events or text (false: one buffered answer).
    pub fn streamed(&self) -> bool {
        matches!(self.form, Form::Streamed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn the_decoder_gives_each_event_as_soon_as_it_is_complete() {
        let whole = streamed(
            200,
            "data: {\"data\": \"he\"}\n\ndata: {\"data\": \"llo\"}\n\ndata: {\"output\": \"hello\"}\n\n",
        );
        let whole = {
            // The prelude says what the body is.
            let text = String::from_utf8(whole).unwrap();
            text.replace(
                r#""headers": {}"#,
                r#""headers": {"content-type": "text/event-stream"}"#,
            )
            .into_bytes()
        };
        let mut decoder = Decoder::default();
        let mut seen = Vec::new();
        // Split anywhere, even inside the prelude's separator or an event.
        for chunk in whole.chunks(7) {
            seen.extend(decoder.feed(chunk));
        }
        assert_eq!(
            seen,
            vec![
                json!({"data": "he"}),
                json!({"data": "llo"}),
                json!({"output": "hello"})
            ]
        );
        assert!(decoder.streamed());
        assert_eq!(
            serde_json::from_slice::<Value>(&decoder.finish()).unwrap(),
            json!({"output": "hello"})
        );
        // A buffered function's answer comes whole at the end.
        let mut decoder = Decoder::default();
        assert!(decoder.feed(br#"{"output": "buffered answer"}"#).is_empty());
        assert!(!decoder.streamed());
        assert_eq!(
            decoder.finish(),
            br#"{"output": "buffered answer"}"#.to_vec()
        );
    }
}
