//! `agentdeploy logs NAME`: the function's CloudWatch log lines, oldest first, each with its time
//! and the request it belongs to (reference §11). Lambda writes `START RequestId: ...` before a
//! request's lines and `END`/`REPORT` after them in the same stream, so the request id of every
//! line is known from its stream.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cli::{LogsArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::lookup::{recorded, sdk_for};

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// One log line as `-o json` prints it (one object a line).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The same time, RFC 3339 (UTC).
    pub time: String,
    pub request_id: Option<String>,
    pub message: String,
    pub stream: String,
}

impl LogLine {
    fn text(&self) -> String {
        format!(
            "{} {} {}",
            self.time,
            self.request_id
                .as_deref()
                .map(|id| id.get(..8).unwrap_or(id))
                .unwrap_or("-       "),
            printable(self.message.trim_end())
        )
    }
}

/// A log line as a terminal may show it: the function's own control characters are written as
/// escapes; newlines and tabs stay. `-o json` escapes them already.
fn printable(message: &str) -> String {
    crate::untrusted::lines(message)
}

/// `30s`, `10m`, `2h`, `1d`: how far back to start.
pub fn parse_since(text: &str) -> Option<Duration> {
    crate::age::parse(text)
}

/// Names each line with the request it belongs to, reading the START/END markers per stream.
#[derive(Default)]
struct Requests {
    current: BTreeMap<String, String>,
}

impl Requests {
    fn line(&mut self, stream: &str, timestamp: i64, message: &str) -> LogLine {
        let marked = ["START RequestId: ", "END RequestId: ", "REPORT RequestId: "]
            .iter()
            .find_map(|marker| message.strip_prefix(marker))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string);
        if message.starts_with("START RequestId: ")
            && let Some(id) = &marked
        {
            self.current.insert(stream.to_string(), id.clone());
        }
        let request_id = marked.or_else(|| self.current.get(stream).cloned());
        if message.starts_with("REPORT RequestId: ") {
            self.current.remove(stream);
        }
        LogLine {
            timestamp,
            time: rfc3339_millis(timestamp),
            request_id,
            message: message.to_string(),
            stream: stream.to_string(),
        }
    }
}

fn rfc3339_millis(timestamp: i64) -> String {
    crate::orchestrate::record::rfc3339(
        timestamp.div_euclid(1000),
        Some(timestamp.rem_euclid(1000)),
    )
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn logs<T: crate::target::Target>(
    ctx: &Context,
    args: &LogsArgs,
    target: &T,
) -> Result<i32> {
    let since = parse_since(&args.since).ok_or_else(|| {
        Error::usage_hint(
            "--since",
            format!("`{}` is not an age such as 30s, 10m, 2h or 1d", args.since),
            "a number and one of s, m, h, d",
        )
    })?;
    let (_, entry, _) = recorded(ctx, &args.name, target)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let client = crate::aws::clients::logs(&sdk);
    let group = target.log_group(&args.name);
    let mut start = now_millis() - since.as_millis() as i64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut requests = Requests::default();
    // Registered now, before the first lines print: `ctrl_c()` registers only when first polled,
    // and a Ctrl-C before that would kill the process instead of ending --follow cleanly.
    let mut interrupted = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| Error::internal(format!("cannot listen for Ctrl-C: {e}")))?;
    loop {
        let lines = fetch(&client, &group, start, args.filter.as_deref(), &mut seen).await?;
        for (stream, timestamp, message) in lines {
            start = start.max(timestamp);
            let line = requests.line(&stream, timestamp, &message);
            match ctx.global.output {
                OutputFormat::Json => {
                    crate::outln!("{}", serde_json::to_string(&line).unwrap_or_default())
                }
                OutputFormat::Text => crate::outln!("{}", line.text()),
            }
        }
        // Nobody reads any more (`logs --follow | head -2`): stop, as Unix tools do.
        if !args.follow || crate::output::stdout_closed() {
            return Ok(exit_codes::OK);
        }
        tokio::select! {
            _ = interrupted.recv() => return Ok(exit_codes::OK),
            () = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}

/// Every event of the group from `start` on, oldest first, skipping those already printed.
async fn fetch(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start: i64,
    filter: Option<&str>,
    seen: &mut HashSet<String>,
) -> Result<Vec<(String, i64, String)>> {
    let mut lines = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(start)
            // A quoted term matches the text as it is (CloudWatch's filter syntax).
            .set_filter_pattern(filter.map(|text| format!("\"{}\"", text.replace('"', "\\\""))))
            .set_next_token(token)
            .send()
            .await
            .map_err(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    Error::usage_hint(
                        "NAME",
                        format!("there is no log group {group} yet"),
                        "the function writes its first lines when it is first called; check -e / --region",
                    )
                } else {
                    Error::internal(crate::aws::errors::call_failed(format_args!("FilterLogEvents {group}"), &err))
                }
            })?;
        for event in page.events() {
            let id = event.event_id().unwrap_or_default().to_string();
            if !id.is_empty() && !seen.insert(id) {
                continue;
            }
            lines.push((
                event.log_stream_name().unwrap_or_default().to_string(),
                event.timestamp().unwrap_or_default(),
                event.message().unwrap_or_default().to_string(),
            ));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    lines.sort_by_key(|(_, timestamp, _)| *timestamp);
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_since("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_since("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_since("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_since("30s"), Some(Duration::from_secs(30)));
        for bad in [
            "",
            "10",
            "m",
            "0m",
            "1w",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_since(bad), None, "{bad}");
        }
    }

    #[test]
    fn control_characters_in_a_line_are_shown_not_obeyed() {
        let line = LogLine {
            timestamp: 0,
            time: "2026-11-30T00:00:00.000Z".into(),
            request_id: None,
            message: "ok\u{1b}[2J\u{1b}[31mred\rfake\tcell\nnext\n".into(),
            stream: "s".into(),
        };
        let text = line.text();
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.ends_with(
                r"ok\u{1b}[2J\u{1b}[31mred\rfake	cell
next"
            ),
            "{text:?}"
        );
    }

    #[test]
    fn each_line_carries_the_request_of_its_stream() {
        let mut requests = Requests::default();
        let a = "2026/11/22/[1]a";
        let b = "2026/11/22/[1]b";
        let lines = [
            requests.line(a, 1, "START RequestId: r-1 Version: 1"),
            requests.line(b, 2, "START RequestId: r-2 Version: 1"),
            requests.line(a, 3, "hello from one"),
            requests.line(b, 4, "hello from two"),
            requests.line(a, 5, "REPORT RequestId: r-1\tDuration: 1 ms"),
            requests.line(a, 6, "a line outside any request"),
        ];
        let ids: Vec<Option<&str>> = lines.iter().map(|l| l.request_id.as_deref()).collect();
        assert_eq!(
            ids,
            [
                Some("r-1"),
                Some("r-2"),
                Some("r-1"),
                Some("r-2"),
                Some("r-1"),
                None
            ]
        );
        assert_eq!(lines[0].time, "1970-01-01T00:00:00.001Z");
    }
}
