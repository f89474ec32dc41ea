//! Smoke cases (reference §7): what a newly published version must answer before `live` moves to
//! it, and what `agentdeploy test` checks of `live` at any time. The cases are read and checked
//! before anything runs; each is one call of the function, judged by its status, its text and
//! its time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::output::{CaseResult, SmokeReport};

/// A case file, read and validated.
#[derive(Debug, Clone)]
pub struct Cases {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: Option<String>,
    input: String,
    data: Option<Value>,
    #[serde(default)]
    expect: ExpectSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    status: Option<u16>,
    contains: Option<String>,
    matches: Option<String>,
    within_s: Option<f64>,
}

/// One case: the request and what its answer must be.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    input: String,
    data: Option<Value>,
    /// The status the endpoint would answer with [default: 200].
    status: u16,
    contains: Option<String>,
    matches: Option<regex_lite::Regex>,
    within: Option<Duration>,
}

impl Case {
    /// The request as `agentdeploy invoke` sends it.
    pub fn payload(&self) -> Vec<u8> {
        let mut request = serde_json::Map::new();
        request.insert("input".into(), Value::String(self.input.clone()));
        if let Some(data) = &self.data {
            request.insert("data".into(), data.clone());
        }
        serde_json::to_vec(&Value::Object(request)).unwrap_or_default()
    }
}

/// Reads a case file: JSON, YAML or TOML, either a list of cases or a table with `cases`.
/// The first NaN or infinity anywhere in a YAML document.
fn non_finite(value: &serde_yaml::Value) -> Option<f64> {
    match value {
        serde_yaml::Value::Number(n) => n.as_f64().filter(|f| !f.is_finite()),
        serde_yaml::Value::Sequence(items) => items.iter().find_map(non_finite),
        serde_yaml::Value::Mapping(map) => map.values().find_map(non_finite),
        serde_yaml::Value::Tagged(tagged) => non_finite(&tagged.value),
        _ => None,
    }
}

fn non_finite_toml(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f).filter(|f| !f.is_finite()),
        toml::Value::Array(items) => items.iter().find_map(non_finite_toml),
        toml::Value::Table(table) => table.values().find_map(non_finite_toml),
        _ => None,
    }
}

/// The cases file as JSON, from its format (by extension); what JSON cannot hold is refused.
fn parse_document(path: &Path, text: &str, bad: &dyn Fn(String, &str) -> Error) -> Result<Value> {
    let format_hint = "fix the file's syntax at the place named";
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(text)
            .map_err(|e| bad(format!("not valid JSON: {e}"), format_hint))?,
        Some("yaml" | "yml") => {
            let yaml: serde_yaml::Value = serde_yaml::from_str(text)
                .map_err(|e| bad(format!("not valid YAML: {e}"), format_hint))?;
            // JSON has no NaN or infinity: converted, `.nan` would vanish into null unseen.
            if let Some(number) = non_finite(&yaml) {
                return Err(bad(
                    format!(
                        "holds {number}, which no field takes (e.g. expect.within_s must be a number of seconds)"
                    ),
                    format_hint,
                ));
            }
            serde_json::to_value(yaml).map_err(|e| bad(e.to_string(), format_hint))?
        }
        Some("toml") => {
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| bad(format!("not valid TOML: {e}"), format_hint))?;
            if let Some(number) = non_finite_toml(&toml::Value::Table(table.clone())) {
                return Err(bad(
                    format!(
                        "holds {number}, which no field takes (e.g. expect.within_s must be a number of seconds)"
                    ),
                    format_hint,
                ));
            }
            serde_json::to_value(table).map_err(|e| bad(e.to_string(), format_hint))?
        }
        _ => {
            return Err(bad(
                "smoke cases must be a .json, .yaml, .yml or .toml file".into(),
                "rename the file with the extension of its format",
            ));
        }
    })
}

pub fn load(path: &Path) -> Result<Cases> {
    let location = path.display().to_string();
    let bad = |message: String, hint: &str| Error::Config {
        location: location.clone(),
        message,
        hint: Some(hint.to_string()),
    };
    // At most 1 MiB (`/dev/zero` is not read to exhaustion; a deeply nested YAML stays cheap).
    let text = crate::files::read_user_text(path).map_err(|e| {
        bad(
            format!("cannot read the smoke cases: {e}"),
            "give --smoke (or `smoke` in agentdeploy.toml) a readable .json, .yaml or .toml file",
        )
    })?;
    let document = parse_document(path, &text, &bad)?;
    let shape_hint = "write a list of cases like [{\"input\": \"What is 2 + 2?\", \"expect\": {\"contains\": \"4\"}}] (or a `cases` list)";
    let list = match document {
        Value::Array(list) => list,
        Value::Object(mut table) if table.contains_key("cases") && table.len() == 1 => {
            match table.remove("cases") {
                Some(Value::Array(list)) => list,
                _ => return Err(bad("`cases` must be a list".into(), shape_hint)),
            }
        }
        _ => {
            return Err(bad(
                "expected a list of cases (or a table with only `cases`)".into(),
                shape_hint,
            ));
        }
    };
    if list.is_empty() {
        return Err(bad("there are no cases".into(), shape_hint));
    }
    let mut cases = Vec::with_capacity(list.len());
    for (index, item) in list.into_iter().enumerate() {
        let number = index + 1;
        let spec: CaseSpec = serde_json::from_value(item).map_err(|e| {
            bad(
                format!("case {number}: {e}"),
                "a case has `input` (text), optional `name` and `data` (JSON), and `expect` with `status`, `contains`, `matches` (a regular expression) and `within_s`",
            )
        })?;
        cases.push(case(spec, number).map_err(|message| {
            bad(
                format!("case {number}: {message}"),
                "fix the expectation named",
            )
        })?);
    }
    Ok(Cases {
        path: path.to_path_buf(),
        cases,
    })
}

fn case(spec: CaseSpec, number: usize) -> std::result::Result<Case, String> {
    let expect = spec.expect;
    let status = expect.status.unwrap_or(200);
    if !(100..=599).contains(&status) {
        return Err(format!(
            "expect.status {status} is not an HTTP status (100-599)"
        ));
    }
    let matches = expect
        .matches
        .map(|pattern| {
            regex_lite::Regex::new(&pattern)
                .map_err(|e| format!("expect.matches is not a regular expression: {e}"))
        })
        .transpose()?;
    let within = expect
        .within_s
        .map(|seconds| {
            if seconds.is_finite() && seconds > 0.0 && seconds <= 900.0 {
                Ok(Duration::from_secs_f64(seconds))
            } else {
                Err(format!(
                    "expect.within_s {seconds} must be more than 0 and at most 900 seconds"
                ))
            }
        })
        .transpose()?;
    Ok(Case {
        name: spec.name.unwrap_or_else(|| format!("case {number}")),
        input: spec.input,
        data: spec.data,
        status,
        contains: expect.contains,
        matches,
        within,
    })
}

/// One call's answer: the payload, and the platform's error type when the function itself
/// failed (Lambda's `FunctionError`).
#[derive(Debug, Clone)]
pub struct Answer {
    pub payload: Vec<u8>,
    pub function_error: Option<String>,
}

/// Runs each case in order through `call` (one Invoke of the version under test) and judges
/// its answer. An AWS call that fails is an error, not a failed case: nothing was learnt about
/// the version.
pub async fn run<F, Fut>(cases: &Cases, version: &str, mut call: F) -> Result<SmokeReport>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Result<Answer>>,
{
    let mut results = Vec::with_capacity(cases.cases.len());
    for case in &cases.cases {
        let started = Instant::now();
        let answer = call(case.payload()).await?;
        results.push(judge(case, &answer, started.elapsed()));
    }
    Ok(SmokeReport {
        file: cases.path.display().to_string(),
        version: version.to_string(),
        passed: results.iter().all(|r| r.passed),
        cases: results,
    })
}

/// The status an HTTP caller would have seen, and the answer's text.
fn status_and_text(answer: &Answer) -> (u16, String) {
    let body: Value = serde_json::from_slice(&answer.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.payload).into_owned()));
    if let Some(kind) = &answer.function_error {
        // The function itself failed (an exception it let out, a timeout): API Gateway and
        // Function URLs answer 502.
        let message = body
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or("");
        return (502, format!("{kind}: {message}"));
    }
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match &body {
        // An agent's own Lambda-style handler answers as API Gateway expects.
        Value::Object(map) if map.get("statusCode").is_some_and(Value::is_u64) => (
            map["statusCode"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(500),
            map.get("body").map(text).unwrap_or_default(),
        ),
        // agentdeploy's handler answers a direct call with the body it would send over HTTP.
        Value::Object(map) if map.contains_key("error") && !map.contains_key("output") => {
            let status = match map["error"].as_str() {
                Some("BadRequest") => 400,
                Some("NoCallerIdentity") => 403,
                Some("SessionConflict") => 409,
                _ => 500,
            };
            (status, body.to_string())
        }
        Value::Object(map) if map.contains_key("output") => (200, text(&map["output"])),
        other => (200, text(other)),
    }
}

fn judge(case: &Case, answer: &Answer, elapsed: Duration) -> CaseResult {
    let (status, text) = status_and_text(answer);
    let mut failures = Vec::new();
    if status != case.status {
        failures.push(format!(
            "answered {status}, expected {}: {}",
            case.status,
            excerpt(&text)
        ));
    }
    if let Some(needle) = &case.contains
        && !text.contains(needle.as_str())
    {
        failures.push(format!(
            "the answer does not contain {needle:?}: {}",
            excerpt(&text)
        ));
    }
    if let Some(pattern) = &case.matches
        && !pattern.is_match(&text)
    {
        failures.push(format!(
            "the answer does not match /{}/: {}",
            pattern.as_str(),
            excerpt(&text)
        ));
    }
    if let Some(within) = case.within
        && elapsed > within
    {
        failures.push(format!(
            "took {:.1} s, expected within {} s",
            elapsed.as_secs_f64(),
            within.as_secs_f64()
        ));
    }
    CaseResult {
        name: case.name.clone(),
        passed: failures.is_empty(),
        status,
        duration_ms: elapsed.as_millis() as u64,
        failures,
    }
}

/// Enough of an answer to see what went wrong, on one line.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 160;
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => format!("{:?}…", &flat[..at]),
        None => format!("{flat:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn answer(payload: &str, function_error: Option<&str>) -> Answer {
        Answer {
            payload: payload.as_bytes().to_vec(),
            function_error: function_error.map(str::to_string),
        }
    }

    #[test]
    fn json_yaml_and_toml_files_give_the_same_cases() {
        let dir = tempfile::tempdir().unwrap();
        let json = write(
            dir.path(),
            "cases.json",
            r#"[{"name": "adds", "input": "2+2?", "data": {"offline": true}, "expect": {"contains": "4", "within_s": 5}}]"#,
        );
        let yaml = write(
            dir.path(),
            "cases.yaml",
            "cases:\n  - name: adds\n    input: \"2+2?\"\n    data: {offline: true}\n    expect: {contains: \"4\", within_s: 5}\n",
        );
        let toml = write(
            dir.path(),
            "cases.toml",
            "[[cases]]\nname = \"adds\"\ninput = \"2+2?\"\ndata = { offline = true }\nexpect = { contains = \"4\", within_s = 5 }\n",
        );
        for path in [json, yaml, toml] {
            let cases = load(&path).unwrap();
            assert_eq!(cases.cases.len(), 1, "{}", path.display());
            let case = &cases.cases[0];
            assert_eq!(case.name, "adds");
            assert_eq!(case.status, 200, "status defaults to 200");
            assert_eq!(case.within, Some(Duration::from_secs(5)));
            let payload: Value = serde_json::from_slice(&case.payload()).unwrap();
            assert_eq!(
                payload,
                serde_json::json!({"input": "2+2?", "data": {"offline": true}})
            );
        }
    }

    #[test]
    fn a_bad_case_file_is_refused_naming_the_file_and_the_case() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, expected) in [
            ("a.json", "[{\"input\": \"hi\",}]", "not valid JSON"),
            (
                "b.json",
                r#"[{"input": "hi"}, {"input": "hi", "expects": {}}]"#,
                "case 2: unknown field `expects`",
            ),
            (
                "c.json",
                r#"[{"data": {}}]"#,
                "case 1: missing field `input`",
            ),
            (
                "d.json",
                r#"[{"input": "hi", "expect": {"matches": "("}}]"#,
                "case 1: expect.matches is not a regular expression",
            ),
            (
                "e.json",
                r#"[{"input": "hi", "expect": {"within_s": 0}}]"#,
                "case 1: expect.within_s 0",
            ),
            (
                "f.json",
                r#"[{"input": "hi", "expect": {"status": 42}}]"#,
                "not an HTTP status",
            ),
            (
                "nan.yaml",
                "- input: hi\n  expect: {within_s: .nan}\n",
                "holds NaN, which no field takes",
            ),
            (
                "inf.yaml",
                "- input: hi\n  expect: {within_s: .inf}\n",
                "holds inf, which no field takes",
            ),
            (
                "nan.toml",
                "[[cases]]\ninput = \"hi\"\nexpect = { within_s = nan }\n",
                "holds NaN, which no field takes",
            ),
            ("g.json", "[]", "there are no cases"),
            ("h.json", r#"{"input": "hi"}"#, "expected a list of cases"),
            ("cases.txt", "[]", ".json, .yaml, .yml or .toml"),
        ] {
            let path = write(dir.path(), name, text);
            let err = load(&path).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(name), "{name}: {shown}");
            assert!(shown.contains(expected), "{name}: {shown}");
            assert_eq!(err.exit_code(), crate::exit_codes::USAGE, "{name}");
        }
        let missing = load(&dir.path().join("none.json")).unwrap_err();
        assert!(missing.to_string().contains("cannot read"), "{missing}");
    }

    fn one_case(expect: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.json",
            &format!(r#"[{{"input": "q", "expect": {expect}}}]"#),
        );
        load(&path).unwrap().cases.remove(0)
    }

    #[test]
    fn an_answer_is_judged_by_status_text_and_time() {
        let fast = Duration::from_millis(10);
        let case = one_case(r#"{"contains": "42", "matches": "^The answer is \\d+$"}"#);
        let good = judge(
            &case,
            &answer(r#"{"output": "The answer is 42"}"#, None),
            fast,
        );
        assert!(good.passed, "{good:?}");
        assert_eq!(good.status, 200);

        let wrong = judge(&case, &answer(r#"{"output": "I do not know"}"#, None), fast);
        assert!(!wrong.passed);
        assert_eq!(wrong.failures.len(), 2, "{wrong:?}");
        assert!(
            wrong.failures[0].contains("does not contain \"42\""),
            "{wrong:?}"
        );
        assert!(wrong.failures[1].contains("does not match"), "{wrong:?}");

        let crashed = judge(
            &case,
            &answer(
                r#"{"errorMessage": "boom", "errorType": "RuntimeError"}"#,
                Some("Unhandled"),
            ),
            fast,
        );
        assert_eq!(crashed.status, 502);
        assert!(
            crashed.failures[0].contains("answered 502, expected 200"),
            "{crashed:?}"
        );

        let refused = judge(
            &one_case(r#"{"status": 400}"#),
            &answer(
                r#"{"error": "BadRequest", "message": "missing input"}"#,
                None,
            ),
            fast,
        );
        assert!(refused.passed, "an expected 400 passes: {refused:?}");
        let raised = judge(
            &one_case("{}"),
            &answer(r#"{"error": "ValueError", "message": "no"}"#, None),
            fast,
        );
        assert_eq!(raised.status, 500);

        let own_handler = judge(
            &one_case(r#"{"status": 201, "contains": "made"}"#),
            &answer(r#"{"statusCode": 201, "body": "made it"}"#, None),
            fast,
        );
        assert!(own_handler.passed, "{own_handler:?}");

        let slow = judge(
            &one_case(r#"{"within_s": 0.5}"#),
            &answer(r#"{"output": "ok"}"#, None),
            Duration::from_millis(700),
        );
        assert!(!slow.passed);
        assert!(
            slow.failures[0].contains("took 0.7 s, expected within 0.5 s"),
            "{slow:?}"
        );
    }
}
