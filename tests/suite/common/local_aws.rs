//! The local AWS (tests/emulator/local_aws.py) for one test: started on a free port, ready when
//! it prints its URL, stopped when dropped (its stdin closes: it stops its execution environments
//! and exits).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::{python313, repo, tools_dir, venv_bin};

pub const BUCKET: &str = "agentdeploy-artifacts";
pub const ACCOUNT: &str = "123456789012";

pub struct LocalAws {
    child: Child,
    pub url: String,
}

impl LocalAws {
    /// The local AWS with warm execution environments, as Lambda keeps them.
    pub fn start() -> LocalAws {
        Self::start_with(false)
    }

    /// The local AWS where every Invoke is a cold start (a fresh process).
    pub fn start_cold() -> LocalAws {
        Self::start_with(true)
    }

    /// The local AWS writing every call it serves to `log` (`access key\tservice:Action` lines).
    pub fn start_logging_calls(log: &Path) -> LocalAws {
        Self::start_inner(false, Some(log))
    }

    fn start_with(cold_starts: bool) -> LocalAws {
        Self::start_inner(cold_starts, None)
    }

    fn start_inner(cold_starts: bool, call_log: Option<&Path>) -> LocalAws {
        let path = format!(
            "{}:{}",
            python313().parent().unwrap().display(),
            super::base_path()
        );
        let mut command = Command::new(venv_bin("python"));
        if let Some(log) = call_log {
            command.env("LOCAL_AWS_CALL_LOG", log);
        }
        let mut child = command
            .arg(repo().join("tests/emulator/local_aws.py"))
            .args(["--bucket", BUCKET])
            .env("PATH", path)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("LOCAL_AWS_RUNTIME_SITE", tools_dir().join("py313-runtime"))
            .env(
                "LOCAL_AWS_WEB_ADAPTER",
                tools_dir().join("lwa/bin/lambda-adapter"),
            )
            .env("LOCAL_AWS_COLD_STARTS", if cold_starts { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the local AWS starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the local AWS prints its URL");
        let url = line
            .strip_prefix("LOCAL_AWS_READY ")
            .unwrap_or_else(|| panic!("unexpected first line from the local AWS: {line:?}"))
            .trim()
            .to_string();
        LocalAws { child, url }
    }

    /// `agentdeploy lambda -o json --s3-bucket <the bucket>` in `cwd`, against this emulator,
    /// with sam and the runtime's python3.13 on PATH; callers add the rest.
    pub fn lambda_command(&self, cwd: &Path) -> Command {
        let mut cmd = super::agentdeploy(cwd);
        self.configure(&mut cmd);
        cmd.env("PATH", deploy_path())
            .args(["lambda", "-o", "json", "--s3-bucket", BUCKET]);
        cmd
    }

    /// Runs a Python script against this emulator with boto3 (the test's own view of AWS):
    /// `client(name)` makes a client for it; `stream_events(answer)` reads an
    /// InvokeWithResponseStream answer's Server-Sent Events (after the HTTP prelude, when there
    /// is one). Returns stdout; fails the test if the script fails.
    pub fn boto3(&self, script: &str) -> String {
        let prelude = "import boto3, json, os\n\
                       def client(name):\n    \
                       return boto3.client(name, endpoint_url=os.environ['ENDPOINT'], \
                       region_name='us-east-1', aws_access_key_id='testing', \
                       aws_secret_access_key='testing-secret-key')\n\
                       def stream_events(answer):\n    \
                       raw = b''.join(e['PayloadChunk']['Payload'] for e in answer['EventStream'] if 'PayloadChunk' in e)\n    \
                       body = raw.partition(b'\\0' * 8)[2] if b'\\0' * 8 in raw else raw\n    \
                       return [json.loads(e[len(b'data: '):]) for e in body.split(b'\\n\\n') if e.startswith(b'data: ')]\n";
        let out = Command::new(venv_bin("python"))
            .args(["-c", &format!("{prelude}{script}")])
            .env("ENDPOINT", &self.url)
            .output()
            .expect("the venv python runs");
        assert!(
            out.status.success(),
            "boto3 script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Points an agentdeploy command at this emulator with test credentials.
    pub fn configure(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/agentdeploy-test-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/agentdeploy-test-credentials",
            );
    }
}

impl Drop for LocalAws {
    /// Stops the local AWS as a test expects a server to stop: its stdin closes, it stops every
    /// execution environment it started (their whole process groups) and exits; killed only if
    /// it has not exited within a minute.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PATH for agentdeploy: the tool venv (sam) and the real 3.13 first, then the system.
pub fn deploy_path() -> String {
    format!(
        "{}:{}:{}",
        python313().parent().unwrap().display(),
        tools_dir().join("venv/bin").display(),
        super::base_path()
    )
}

/// PATH with sam but no python3.13 (nor any other Lambda runtime's interpreter).
pub fn path_without_runtime_interpreters() -> String {
    format!(
        "{}:{}",
        tools_dir().join("venv/bin").display(),
        super::base_path()
    )
}

pub fn artifact_files(out_dir: &Path) -> Vec<String> {
    super::files_below(&out_dir.join(".aws-sam/build/AgentFunction"))
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}
