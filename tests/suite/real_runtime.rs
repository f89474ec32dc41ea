//! The function runs as Lambda runs it, on the local AWS: buffered functions under AWS's own
//! runtime interface client (`awslambdaric`, installed by .ci/setup) against the emulator's
//! Runtime API — one INIT per execution environment, then invocations looping in that process —
//! and streamed ones behind AWS's own Web Adapter (`lambda-adapter`, built by .ci/setup).

use std::path::Path;

use serde_json::Value;

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::lifecycle_e2e::{cmd, deploy_args};

/// Reports the process it runs in, when its module was imported, and who called it.
const WARM_AGENT: &str = r#"import os
import sys
import uuid

IMPORTED = uuid.uuid4().hex


def main(user_input_arg=None, input_data_arg=None):
    return {
        "pid": os.getpid(),
        "imported": IMPORTED,
        "runtime_client": "awslambdaric.bootstrap" in sys.modules,
    }
"#;

/// One Invoke with its log tail: the decoded answer and whether the REPORT line has an INIT.
fn invoke_logged(aws: &LocalAws, function: &str) -> (Value, bool) {
    let script = format!(
        "import base64\n\
         answer = client('lambda').invoke(FunctionName={function:?}, Qualifier='live', LogType='Tail', Payload=json.dumps({{'input': 'hi'}}))\n\
         log = base64.b64decode(answer['LogResult']).decode()\n\
         print(json.dumps([json.loads(answer['Payload'].read().decode()), 'Init Duration' in log]))\n"
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

fn deploy(aws: &LocalAws, dir: &Path, name: &str, extra: &[&str]) {
    let args = deploy_args(name);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(extra);
    let out = run(&mut cmd(aws, dir, &args));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// The process group of `pid` (field 5 of /proc/PID/stat).
fn process_group(pid: u64) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split_whitespace().nth(2).unwrap().to_string()
}

/// Pids of the live processes in process group `group`.
fn members(group: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat"))
            && let Some(end) = stat.rfind(')')
            && stat[end + 2..].split_whitespace().nth(2) == Some(group)
        {
            found.push(pid);
        }
    }
    found
}

/// The streamed answer's last event, called as an SDK calls InvokeWithResponseStream.
fn streamed_last_event(aws: &LocalAws, function: &str) -> Value {
    let script = format!(
        "answer = client('lambda').invoke_with_response_stream(FunctionName={function:?}, Qualifier='live', Payload=json.dumps({{'input': 'hi'}}))\n\
         raw = b''.join(e['PayloadChunk']['Payload'] for e in answer['EventStream'] if 'PayloadChunk' in e)\n\
         prelude, _, body = raw.partition(b'\\0' * 8)\n\
         assert json.loads(prelude)['statusCode'] == 200, raw\n\
         events = [json.loads(e[len(b'data: '):]) for e in body.split(b'\\n\\n') if e.startswith(b'data: ')]\n\
         print(json.dumps(events[-1]))\n"
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

#[test]
fn a_warm_environment_serves_invocations_from_one_init_under_awslambdaric() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.py"), WARM_AGENT).unwrap();
    deploy(&aws, dir.path(), "warm", &[]);
    let answers: Vec<(Value, bool)> = (0..3).map(|_| invoke_logged(&aws, "warm")).collect();
    let (first, cold) = &answers[0];
    assert!(cold, "the first Invoke is a cold start: {answers:?}");
    assert_eq!(first["output"]["runtime_client"], true, "{first}");
    for (answer, cold) in &answers[1..] {
        assert!(!cold, "a warm Invoke has no INIT: {answers:?}");
        assert_eq!(
            answer["output"]["pid"], first["output"]["pid"],
            "{answers:?}"
        );
        assert_eq!(
            answer["output"]["imported"], first["output"]["imported"],
            "{answers:?}"
        );
    }
    let buffered = process_group(first["output"]["pid"].as_u64().unwrap());

    // A streamed function on the same local AWS: its server behind the real adapter, warm too.
    deploy(&aws, dir.path(), "warmstream", &["--stream"]);
    let answers: Vec<Value> = (0..2)
        .map(|_| streamed_last_event(&aws, "warmstream"))
        .collect();
    assert_eq!(answers[0]["output"]["runtime_client"], false, "{answers:?}");
    assert_eq!(
        answers[0]["output"]["pid"], answers[1]["output"]["pid"],
        "{answers:?}"
    );
    let streamed = process_group(answers[0]["output"]["pid"].as_u64().unwrap());
    let adapter = members(&streamed).into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("lambda-adapter"))
    });
    assert!(
        adapter.is_some(),
        "the real adapter serves the streamed environment"
    );

    // When the local AWS stops, its execution environments stop with it, whole.
    drop(aws);
    for group in [buffered, streamed] {
        assert_eq!(
            members(&group),
            Vec::<String>::new(),
            "processes of an execution environment outlived the local AWS"
        );
    }
}
