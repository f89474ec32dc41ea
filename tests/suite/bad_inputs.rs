//! The bad-input table (docs/bad-inputs.md): every case asserts the exit code, the message, and
//! that nothing was written or left behind (no rendered project, no record). The page is made
//! from this table and checked by `the_bad_inputs_page_is_this_table`, so it cannot drift.

use std::path::Path;

use crate::common::*;

struct Case {
    name: &'static str,
    /// Files to create in the project folder: (path, contents).
    files: &'static [(&'static str, &'static [u8])],
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    code: i32,
    message: &'static str,
}

const AGENT: &[u8] =
    b"def main(user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n";

const fn with_agent(
    args: &'static [&'static str],
    code: i32,
    message: &'static str,
    name: &'static str,
) -> Case {
    Case {
        name,
        files: &[("agent.py", AGENT)],
        args,
        env: &[],
        code,
        message,
    }
}

const CASES: &[Case] = &[
    // Flags.
    with_agent(
        &["--function-name", "has space", "--agent", "agent.py"],
        2,
        "--function-name: `has space` is not a valid function name",
        "function name with a space",
    ),
    with_agent(
        &["--function-name", "", "--agent", "agent.py"],
        2,
        "--function-name",
        "empty function name",
    ),
    with_agent(
        &["--function-name", "a.b", "--agent", "agent.py"],
        2,
        "--function-name",
        "function name with a dot",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--memory",
            "127",
        ],
        2,
        "--memory: 127 MB is out of range; allowed: 128-10240 MB",
        "memory too small",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--memory",
            "10241",
        ],
        2,
        "allowed: 128-10240 MB",
        "memory too large",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--memory",
            "1GB",
        ],
        2,
        "--memory: `1GB` is not a whole number",
        "memory with a unit",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--timeout",
            "2",
        ],
        2,
        "--timeout: 2 s is out of range; allowed: 3-900 seconds",
        "timeout too small",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--timeout",
            "901",
        ],
        2,
        "allowed: 3-900 seconds",
        "timeout too large",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--timeout",
            "-5",
        ],
        2,
        "--timeout",
        "negative timeout",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--runtime",
            "python3.11",
        ],
        2,
        "python3.11 is deprecated",
        "deprecated runtime",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--runtime",
            "python3.10",
        ],
        2,
        "python3.10 is deprecated",
        "older deprecated runtime",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--runtime",
            "nodejs22.x",
        ],
        2,
        "--runtime: `nodejs22.x` is not a Lambda Python runtime",
        "not a Python runtime",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--architecture",
            "arm",
        ],
        2,
        "--architecture: `arm` is not an architecture Lambda offers",
        "unknown architecture",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--stack-name",
            "1abc",
        ],
        2,
        "--stack-name: `1abc` is not a valid stack name",
        "stack name starting with a digit",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--stack-name",
            "a_b",
        ],
        2,
        "--stack-name",
        "stack name with an underscore",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--env-var",
            "NOVALUE",
        ],
        2,
        "--env-var: `NOVALUE` is not KEY=VALUE",
        "env var without =",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--env-var",
            "1BAD=x",
        ],
        2,
        "--env-var: `1BAD` is not a valid environment variable name",
        "env var name with a digit first",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--env-var",
            "AWS_REGION=x",
        ],
        2,
        "`AWS_REGION` is reserved",
        "reserved env var",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--env-var",
            "AGENTDEPLOY_ORIGIN=x",
        ],
        2,
        "`AGENTDEPLOY_ORIGIN` is reserved",
        "the env var that marks the stack's own API events",
    ),
    with_agent(
        &["--function-name", "x", "--agent", "agent.py", "--tag", "=v"],
        2,
        "--tag: `=v` is not KEY=VALUE",
        "tag without a key",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--tag",
            "aws:x=1",
        ],
        2,
        "--tag",
        "tag in the aws: namespace",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--secret",
            "TOKEN=abcd1234",
        ],
        2,
        "secret values never go on the command line",
        "secret value on the command line",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--secret",
            "MY-TOKEN",
        ],
        2,
        "--secret: `MY-TOKEN` is not a valid environment variable name",
        "secret name with a dash",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--endpoint",
            "grpc",
        ],
        2,
        "--endpoint: `grpc` is not one of: api, url, none",
        "unknown endpoint kind",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--auth",
            "oauth",
        ],
        2,
        "--auth: `oauth` is not one of",
        "unknown auth mode",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--endpoint",
            "url",
            "--auth",
            "api-key",
        ],
        2,
        "api-key authentication needs --endpoint api",
        "api key on a function URL",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--endpoint",
            "none",
            "--auth",
            "none",
        ],
        2,
        "there is no endpoint to protect",
        "auth without an endpoint",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--s3-bucket",
            "b",
            "--resolve-s3",
        ],
        2,
        "--s3-bucket and --resolve-s3 exclude each other",
        "bucket and resolve-s3",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--subnet-ids",
            "subnet-0123abcd",
        ],
        2,
        "VPC subnets need --security-group-ids too",
        "subnets without security groups",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--security-group-ids",
            "sg-0123abcd",
        ],
        2,
        "VPC security groups need --subnet-ids too",
        "security groups without subnets",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--subnet-ids",
            "subnet-zz",
            "--security-group-ids",
            "sg-0123abcd",
        ],
        2,
        "`subnet-zz` is not a subnet id",
        "malformed subnet id",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--policy",
            "AdministratorAccess",
        ],
        2,
        "--policy: `AdministratorAccess` is not a managed policy ARN",
        "policy name instead of ARN",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--use-container",
            "sometimes",
        ],
        2,
        "--use-container: `sometimes` is not one of",
        "unknown container mode",
    ),
    with_agent(
        &["--agent", "agent.py"],
        2,
        "no function name and no agentdeploy.toml",
        "no function name, no config",
    ),
    with_agent(
        &["--function-name", "x"],
        2,
        "--agent: no agent file for `x`",
        "no agent",
    ),
    with_agent(
        &["--function-name", "x", "--agent", "agent.py", "-e", "prod"],
        2,
        "environment `prod` selected but there is no config file",
        "environment without a config",
    ),
    // Config files.
    Case {
        name: "TOML syntax error",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nmemory = \n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml:3",
    },
    Case {
        name: "YAML syntax error",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.yaml",
                b"agents:\n  x:\n    agent: agent.py\n   memory: [\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.yaml:",
    },
    Case {
        name: "unknown key with a suggestion",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\ntimout = 30\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "did you mean `timeout`?",
    },
    Case {
        name: "unknown top-level table",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[agnets.x]\nagent = \"agent.py\"\n"),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "did you mean `agents`?",
    },
    Case {
        name: "wrong type in config",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nmemory = \"big\"\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml:3: invalid type",
    },
    Case {
        name: "two agents in a config whose stacks would be one (`a-b`, `a_b`)",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.a-b]\nagent = \"agent.py\"\n[agents.a_b]\nagent = \"agent.py\"\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "`a-b` and `a_b` would both deploy to the stack agentdeploy-a-b",
    },
    Case {
        name: "sessions with no caller identity, set in the config, name the config key",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nconversation = \"session\"\nauth = \"none\"\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml: `conversation`: sessions are kept per caller, and with --auth none the endpoint knows no caller",
    },
    Case {
        name: "out-of-range value in config",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nmemory = 64\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml: `memory`: 64 MB is out of range",
    },
    Case {
        name: "unknown choice in config names the key, not a flag",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[defaults]\nendpoint = \"grpc\"\n[agents.x]\nagent = \"agent.py\"\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml: `endpoint`: `grpc` is not one of: api, url, none",
    },
    Case {
        name: "bad subnet id in config",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nsubnet_ids = [\"subnet-zz\"]\nsecurity_group_ids = [\"sg-0123abcd\"]\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml: `subnet_ids`: `subnet-zz` is not a subnet id",
    },
    Case {
        name: "environment that does not exist",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\n[environments.prod]\nmemory = 1024\n",
            ),
        ],
        args: &["-e", "staging"],
        env: &[],
        code: 2,
        message: "environment `staging` is not defined",
    },
    Case {
        name: "environment from AGENTDEPLOY_ENV that does not exist",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[agents.x]\nagent = \"agent.py\"\n"),
        ],
        args: &[],
        env: &[("AGENTDEPLOY_ENV", "qa")],
        code: 2,
        message: "environment `qa` is not defined",
    },
    Case {
        name: "config with no agents",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[defaults]\nmemory = 1024\n"),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "no [agents.NAME] tables",
    },
    Case {
        name: "--only names an unknown agent",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[agents.x]\nagent = \"agent.py\"\n"),
        ],
        args: &["--only", "y"],
        env: &[],
        code: 2,
        message: "`y` is not an agent of",
    },
    Case {
        name: "config file given with -c does not exist",
        files: &[("agent.py", AGENT)],
        args: &["-c", "missing.toml"],
        env: &[],
        code: 2,
        message: "--config: missing.toml: no such file",
    },
    Case {
        name: "bad AGENTDEPLOY_MEMORY",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[("AGENTDEPLOY_MEMORY", "lots")],
        code: 2,
        message: "--memory: `lots` is not a whole number",
    },
    Case {
        name: "config not UTF-8",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[agents.x]\nagent = \"\xff\xfe\"\n"),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "not UTF-8",
    },
    // Agent inputs.
    Case {
        name: "missing agent file",
        files: &[],
        args: &["--function-name", "x", "--agent", "nope.py"],
        env: &[],
        code: 2,
        message: "nope.py: no such file or directory",
    },
    Case {
        name: "empty agent file",
        files: &[("agent.py", b"")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "the agent file is empty",
    },
    Case {
        name: "binary agent file",
        files: &[("agent.py", b"\x7fELF\x02\x01\x01\x00\x00\x00")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "binary file",
    },
    Case {
        name: "non-UTF-8 agent file",
        files: &[("agent.py", b"# caf\xe9\ndef main(user_input_arg=None):\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1:6: not valid UTF-8",
    },
    Case {
        name: "agent that is not a .py file",
        files: &[("agent.txt", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.txt"],
        env: &[],
        code: 2,
        message: "not a .py file",
    },
    Case {
        name: "directory with no entry file",
        files: &[("pkg/helpers.py", b"GREETING = 'hi'\n")],
        args: &["--function-name", "x", "--agent", "pkg"],
        env: &[],
        code: 2,
        message: "directory has no entry file (agent.py, main.py, app.py, or one file with a top-level `main`",
    },
    Case {
        name: "directory with two files that could be the entry",
        files: &[("pkg/bot.py", AGENT), ("pkg/other_bot.py", AGENT)],
        args: &["--function-name", "x", "--agent", "pkg"],
        env: &[],
        code: 2,
        message: "several files could be the entry: bot.py, other_bot.py",
    },
    Case {
        name: "--stream for a Lambda-style handler(event, context)",
        files: &[(
            "agent.py",
            b"def lambda_handler(event, context):\n    return event\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py", "--stream"],
        env: &[],
        code: 2,
        message: "--stream: the entry `lambda_handler` is a Lambda-style handler(event, context): it answers each event whole, so there is nothing to stream",
    },
    Case {
        name: "--stream for a code interpreter",
        files: &[],
        args: &["--function-name", "x", "--kind", "code-interpreter", "--stream"],
        env: &[],
        code: 2,
        message: "--stream: a code interpreter answers each call whole",
    },
    Case {
        name: "sessions for a web app (FastAPI), which reads requests itself",
        files: &[(
            "agent.py",
            b"from fastapi import FastAPI\napp = FastAPI()\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py", "--conversation", "session"],
        env: &[],
        code: 2,
        message: "--conversation session: `app` is a web app that reads requests itself",
    },
    Case {
        name: "streamed sessions behind --endpoint api",
        files: &[("agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--stream",
            "--conversation",
            "session",
            "--endpoint",
            "api",
        ],
        env: &[],
        code: 2,
        message: "--conversation session: streamed answers behind --endpoint api cannot carry sessions",
    },
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--web-adapter-layer",
            "arn:aws:lambda:us-east-1:1:layer:x",
        ],
        2,
        "--web-adapter-layer: `arn:aws:lambda:us-east-1:1:layer:x` is not a Lambda layer version ARN",
        "a --web-adapter-layer that is not a layer version ARN",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--tracing",
            "--stream",
        ],
        2,
        "--tracing: this function is served behind the Lambda Web Adapter (--stream), and the adapter and the ADOT tracing layer each need to be the function's one exec wrapper",
        "--tracing with --stream (both need the exec wrapper)",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--tracing-layer",
            "arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-python-amd64-ver-1-29-0:1",
        ],
        2,
        "--tracing-layer: a tracing layer without --tracing does nothing",
        "--tracing-layer without --tracing",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-errors",
            "150%",
        ],
        2,
        "--alarm-errors: 150 % is not a share of requests above 0 and below 1 (like 0.05 or 5%)",
        "an error-rate alarm that is not a share",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-errors",
            "lots",
        ],
        2,
        "--alarm-errors: `lots` is not a share of requests above 0 and below 1",
        "an error-rate alarm that is not a number",
    ),
    Case {
        name: "an error-rate alarm of 200 % in the config",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\nalarm_errors = 2.0\n",
            ),
        ],
        args: &[],
        env: &[],
        code: 2,
        message: "agentdeploy.toml: `alarm_errors`: 200 % is not a share of requests",
    },
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-p95",
            "0",
        ],
        2,
        "--alarm-p95: 0 ms is out of range: 1 to 900000",
        "a p95 alarm of 0 ms",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-errors",
            "0.05",
            "--alarm-topic",
            "arn:aws:sns:us-east-1:12:pager",
        ],
        2,
        "--alarm-topic: `arn:aws:sns:us-east-1:12:pager` is not an SNS topic ARN",
        "an alarm topic that is not an SNS topic ARN",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-topic",
            "arn:aws:sns:us-east-1:123456789012:pager",
        ],
        2,
        "--alarm-topic: an alarm topic without an alarm does nothing",
        "an alarm topic without an alarm",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--smoke",
            "missing.json",
        ],
        2,
        "missing.json: cannot read the smoke cases",
        "a --smoke file that does not exist",
    ),
    Case {
        name: "an env var that is a CloudFormation dynamic reference",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--env-var", "DB={{resolve:secretsmanager:prod-db}}"],
        env: &[],
        code: 2,
        message: "--env-var: `DB` holds `{{resolve:`, which CloudFormation would replace",
    },
    Case {
        name: "a tag that is a CloudFormation dynamic reference",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--tag", "owner={{resolve:ssm:/team/owner}}"],
        env: &[],
        code: 2,
        message: "--tag: `owner` holds `{{resolve:`",
    },
    Case {
        name: "a --smoke file that never ends (/dev/zero)",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--smoke", "/dev/zero"],
        env: &[],
        code: 2,
        message: "/dev/zero: cannot read the smoke cases: larger than 1 MiB",
    },
    Case {
        name: "a smoke case with a misspelt key",
        files: &[
            ("agent.py", AGENT),
            (
                "cases.json",
                br#"[{"input": "hi"}, {"input": "hi", "expects": {"contains": "hi"}}]"#,
            ),
        ],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--smoke",
            "cases.json",
        ],
        env: &[],
        code: 2,
        message: "cases.json: case 2: unknown field `expects`",
    },
    Case {
        name: "a smoke case whose `matches` is not a regular expression",
        files: &[
            ("agent.py", AGENT),
            ("cases.yaml", b"- input: hi\n  expect: {matches: \"(unclosed\"}\n"),
        ],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--smoke",
            "cases.yaml",
        ],
        env: &[],
        code: 2,
        message: "cases.yaml: case 1: expect.matches is not a regular expression",
    },
    Case {
        name: "SnapStart where it is not offered, the region from AWS_REGION",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--snapstart"],
        env: &[("AWS_REGION", "ap-east-2")],
        code: 2,
        message: "--snapstart: SnapStart is not offered in ap-east-2",
    },
    Case {
        name: "a permissions boundary that is not a policy ARN",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--permissions-boundary", "arn:aws:iam::123456789012:role/Boundary"],
        env: &[],
        code: 2,
        message: "--permissions-boundary: `arn:aws:iam::123456789012:role/Boundary` is not an IAM policy ARN",
    },
    Case {
        name: "a --role that is not a role ARN",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--role", "agent-execution"],
        env: &[],
        code: 2,
        message: "--role: `agent-execution` is not an IAM role ARN",
    },
    Case {
        name: "an alarm topic that is a FIFO topic",
        files: &[("agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--alarm-errors",
            "5%",
            "--alarm-topic",
            "arn:aws:sns:us-east-1:123456789012:ops.fifo",
        ],
        env: &[],
        code: 2,
        message: "is a FIFO topic: CloudWatch alarms publish only to standard topics",
    },
    Case {
        name: "a negative --reserved-concurrency",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--reserved-concurrency", "-1"],
        env: &[],
        code: 2,
        message: "--reserved-concurrency: `-1` is not a whole number",
    },
    Case {
        name: "a --reserved-concurrency beyond AWS's integers",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--reserved-concurrency", "2147483648"],
        env: &[],
        code: 2,
        message: "--reserved-concurrency: 2147483648 is more than AWS accepts (at most 2147483647)",
    },
    Case {
        name: "a --burst-limit beyond AWS's integers",
        files: &[("agent.py", AGENT)],
        args: &["--function-name", "x", "--agent", "agent.py", "--burst-limit", "2147483648"],
        env: &[],
        code: 2,
        message: "--burst-limit: 2147483648 is more than AWS accepts (at most 2147483647)",
    },
    Case {
        name: "a main that takes its input by keyword only",
        files: &[("agent.py", b"def main(*, user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "`main` takes `user_input_arg` by keyword only (after `*`)",
    },
    Case {
        name: "a local module named like the generated handler",
        files: &[("pkg/agent.py", b"import handler\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return handler.answer(user_input_arg)\n"), ("pkg/handler.py", b"def answer(text):\n    return text\n")],
        args: &["--function-name", "x", "--agent", "pkg"],
        env: &[],
        code: 2,
        message: "`handler.py` is the name of a file agentdeploy generates beside the agent",
    },
    Case {
        name: "a single-file agent importing a local agentdeploy_runtime package",
        files: &[("agent.py", b"import agentdeploy_runtime\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n"), ("agentdeploy_runtime/__init__.py", b"")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "`agentdeploy_runtime` is the name of a file agentdeploy generates beside the agent",
    },
    Case {
        name: "syntax error",
        files: &[("agent.py", b"def main(:\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1:10: syntax error",
    },
    Case {
        name: "nothing to call",
        files: &[("agent.py", b"def run():\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py: nothing to call: no top-level `main`",
    },
    Case {
        name: "several Agents and no main",
        files: &[(
            "agent.py",
            b"from strands import Agent\nresearcher = Agent()\nwriter = Agent()\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "several module-level Agents and no `main`: `researcher` (line 2), `writer` (line 3)",
    },
    Case {
        name: "--entry names nothing callable",
        files: &[("agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--entry",
            "helper",
        ],
        env: &[],
        code: 2,
        message: "--entry `helper` is neither a top-level function nor a top-level `Agent(...)` variable",
    },
    Case {
        name: "--entry that is a Python keyword",
        files: &[("agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--entry",
            "class",
        ],
        env: &[],
        code: 2,
        message: "--entry: `class` is not a Python name",
    },
    Case {
        name: "3.12 syntax for a 3.11 runtime",
        files: &[("agent.py", b"type X = int\ndef main(user_input_arg=None):\n    pass\n")],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--runtime",
            "python3.11",
            "--allow-deprecated-runtime",
        ],
        env: &[],
        code: 2,
        message: "agent.py:1:1",
    },
    Case {
        name: "requirements file with pip options",
        files: &[("agent.py", AGENT), ("reqs.txt", b"-r other.txt\n")],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--requirements",
            "reqs.txt",
        ],
        env: &[],
        code: 2,
        message: "reqs.txt:1: pip options",
    },
    Case {
        name: "requirements file missing",
        files: &[("agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--requirements",
            "nope.txt",
        ],
        env: &[],
        code: 2,
        message: "--requirements",
    },
    // Code that parses but that CPython refuses to compile.
    Case {
        name: "module-level return",
        files: &[("agent.py", b"def main(user_input_arg=None):\n    pass\nreturn 1\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:3:1: `return` statement outside of a function",
    },
    Case {
        name: "module-level yield",
        files: &[("agent.py", b"def main(user_input_arg=None):\n    pass\nyield 1\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:3:1: `yield` statement outside of a function",
    },
    Case {
        name: "module-level await",
        files: &[("agent.py", b"def main(user_input_arg=None):\n    pass\nawait main()\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:3:1: `await` statement outside of a function",
    },
    Case {
        name: "break outside a loop",
        files: &[("agent.py", b"def main():\n    break\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:2:5: `break` outside loop",
    },
    Case {
        name: "late from __future__",
        files: &[(
            "agent.py",
            b"import os\nfrom __future__ import annotations\ndef main(user_input_arg=None):\n    pass\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:2:1: __future__ imports must be at the top of the file",
    },
    Case {
        name: "duplicate parameter names",
        files: &[("agent.py", b"def main(a, a):\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1:13: Duplicate parameter",
    },
    Case {
        name: "nonlocal at module level",
        files: &[("agent.py", b"nonlocal x\ndef main(user_input_arg=None):\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1:1: nonlocal declaration not allowed at module level",
    },
    Case {
        name: "starred assignment target alone",
        files: &[("agent.py", b"*a = [1]\ndef main(user_input_arg=None):\n    pass\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1:1: starred assignment target must be in a list or tuple",
    },
    Case {
        name: "unknown coding cookie",
        files: &[(
            "agent.py",
            b"# -*- coding: klingon -*-\ndef main(user_input_arg=None):\n    pass\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: the coding cookie names `klingon`",
    },
    Case {
        name: "coding cookie that conflicts with UTF-8 text",
        files: &[(
            "agent.py",
            b"# coding: latin-1\nGREETING = 'h\xc3\xa9'\ndef main(user_input_arg=None):\n    pass\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: the coding cookie says `latin-1` but the file is UTF-8",
    },
    // Entry points the handler cannot call.
    Case {
        name: "main with three required parameters",
        files: &[("agent.py", b"def main(a, b, c):\n    return a\n")],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: `main` needs 3 positional arguments but the handler passes at most two",
    },
    Case {
        name: "main with a required keyword-only parameter",
        files: &[(
            "agent.py",
            b"def main(user_input=None, *, token):\n    return token\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: `main` needs the keyword-only argument `token`",
    },
    Case {
        name: "main that is an async generator",
        files: &[(
            "agent.py",
            b"async def main(user_input=None):\n    yield user_input\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: `main` is an async generator",
    },
    Case {
        name: "lambda_handler with three required parameters",
        files: &[(
            "agent.py",
            b"def lambda_handler(event, context, extra):\n    return event\n",
        )],
        args: &["--function-name", "x", "--agent", "agent.py"],
        env: &[],
        code: 2,
        message: "agent.py:1: `lambda_handler` needs 3 positional arguments but the handler passes two positional arguments (event, context)",
    },
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--conversation",
            "session",
            "--session-ttl-days",
            "0",
        ],
        2,
        "--session-ttl-days: 0 days is out of range; allowed: 1-3650",
        "session TTL of 0 days",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--session-ttl-days",
            "5",
        ],
        2,
        "--session-ttl-days: sessions are kept only with --conversation session",
        "session TTL without sessions",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--conversation",
            "forever",
        ],
        2,
        "--conversation: `forever` is not one of: isolated, shared, session",
        "unknown conversation mode",
    ),
    // Limits on the bill.
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--log-retention-days",
            "31",
        ],
        2,
        "--log-retention-days: 31 days is not a retention CloudWatch Logs offers",
        "log retention CloudWatch does not offer",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--snapstart",
            "--runtime",
            "python3.11",
            "--allow-deprecated-runtime",
        ],
        2,
        "--snapstart: SnapStart supports python3.12 and newer, not python3.11",
        "SnapStart on an old runtime",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--reserved-concurrency",
            "0",
        ],
        2,
        "--reserved-concurrency: 0 would stop every invocation of the function",
        "reserved concurrency of 0",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--quota",
            "100/year",
        ],
        2,
        "--quota: `100/year` is not N/day, N/week or N/month",
        "quota with an unknown period",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--rate-limit",
            "0",
        ],
        2,
        "--rate-limit: `0` is not a positive number of requests per second",
        "rate limit of 0",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--burst-limit",
            "0",
        ],
        2,
        "--burst-limit: `0` is not a whole number of at least 1",
        "burst limit of 0",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--endpoint",
            "url",
            "--rate-limit",
            "5",
        ],
        2,
        "--rate-limit: usage limits apply to API keys, and this endpoint has none",
        "rate limit without an API key",
    ),
    // Where the project is written: never over the user's files, never outside the project.
    Case {
        name: "--out-dir is a folder of the user's (its src/ would be replaced)",
        files: &[("agent.py", AGENT), ("src/keep.py", b"KEEP = 1\n")],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--out-dir",
            ".",
        ],
        env: &[],
        code: 2,
        message: "is a folder agentdeploy did not create (it has no .agentdeploy-out-dir) and is not empty",
    },
    Case {
        name: "--out-dir is a file",
        files: &[("agent.py", AGENT), ("notes.txt", b"mine\n")],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--out-dir",
            "notes.txt",
        ],
        env: &[],
        code: 2,
        message: "notes.txt exists and is not a folder",
    },
    Case {
        name: "--out-dir inside the agent directory",
        files: &[("pkg/agent.py", AGENT)],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "pkg",
            "--out-dir",
            "pkg/build",
        ],
        env: &[],
        code: 2,
        message: "so it would be shipped with the agent",
    },
    Case {
        name: "environment name that climbs out of the project (-e)",
        files: &[
            ("agent.py", AGENT),
            ("agentdeploy.toml", b"[agents.x]\nagent = \"agent.py\"\n"),
        ],
        args: &["-e", "../../x", "--all"],
        env: &[],
        code: 2,
        message: "--env: `../../x` is not a valid environment name",
    },
    Case {
        name: "environment name that climbs out of the project (config)",
        files: &[
            ("agent.py", AGENT),
            (
                "agentdeploy.toml",
                b"[agents.x]\nagent = \"agent.py\"\n\n[environments.\"../../x\"]\nmemory = 512\n",
            ),
        ],
        args: &["--all"],
        env: &[],
        code: 2,
        message: "agentdeploy.toml:4: [environments.../../x]: `../../x` is not a valid environment name",
    },
    Case {
        name: "--include that leaves the agent directory",
        files: &[("pkg/agent.py", AGENT), ("secret.pem", b"k\n")],
        args: &[
            "--function-name",
            "x",
            "--agent",
            "pkg",
            "--include",
            "../secret.pem",
        ],
        env: &[],
        code: 2,
        message: "--include: `../secret.pem` must be a plain path relative to the agent directory",
    },
    // Names Lambda owns: a secret under one would replace the function's own credentials.
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--secret",
            "AWS_SECRET_ACCESS_KEY",
        ],
        2,
        "--secret: `AWS_SECRET_ACCESS_KEY` is reserved by Lambda or agentdeploy",
        "secret named AWS_SECRET_ACCESS_KEY",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--secret",
            "LAMBDA_TASK_ROOT",
        ],
        2,
        "--secret: `LAMBDA_TASK_ROOT` is reserved",
        "secret named LAMBDA_*",
    ),
    with_agent(
        &[
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--env-var",
            "LAMBDA_RUNTIME_DIR=/tmp",
        ],
        2,
        "--env-var: `LAMBDA_RUNTIME_DIR` is reserved",
        "env var named LAMBDA_*",
    ),
];

fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    for (path, contents) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

fn assert_rejected(
    dir: &Path,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    code: i32,
    message: &str,
) {
    let mut cmd = agentdeploy(dir);
    cmd.args(["lambda", "--dry-run"]).args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = run(&mut cmd);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{name}: exit code\n{err}");
    assert!(
        err.contains(message),
        "{name}: expected `{message}` in:\n{err}"
    );
    assert!(err.contains("error: "), "{name}: {err}");
    assert!(
        !dir.join(".agentdeploy").exists(),
        "{name}: something was written under .agentdeploy"
    );
}

#[test]
fn every_bad_input_is_refused_with_its_exit_code_and_message_and_writes_nothing() {
    assert!(CASES.len() >= 40, "the table has {} cases", CASES.len());
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), case.files);
        let before = files_below(dir.path());
        assert_rejected(
            dir.path(),
            case.name,
            case.args,
            case.env,
            case.code,
            case.message,
        );
        assert_eq!(
            files_below(dir.path()),
            before,
            "{}: files were added",
            case.name
        );
    }
}

#[test]
fn symlink_loop_and_oversized_agent_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(dir.path().join("b.py"), dir.path().join("a.py")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("a.py"), dir.path().join("b.py")).unwrap();
    assert_rejected(
        dir.path(),
        "symlink loop",
        &["--function-name", "x", "--agent", "a.py"],
        &[],
        2,
        "a.py: cannot read",
    );

    let dir = tempfile::tempdir().unwrap();
    let mut big = String::from("def main(user_input_arg=None):\n    pass\n");
    big.push_str(&"# padding padding padding padding padding padding padding\n".repeat(20_000));
    std::fs::write(dir.path().join("agent.py"), big).unwrap();
    assert_rejected(
        dir.path(),
        "very large agent",
        &["--function-name", "x", "--agent", "agent.py"],
        &[],
        2,
        "larger than the 1048576-byte limit",
    );
}

/// Code nested as deep as CPython allows plans; one level deeper exits 2 with file:line, and no
/// depth crashes the process (the parser used to overflow its stack at a few thousand levels).
/// What the runtime's own Python says of `source`: None when it compiles, else the line of
/// its SyntaxError.
fn runtime_compile_error_line(source: &str) -> Option<usize> {
    let out = std::process::Command::new(python313())
        .args([
            "-I",
            "-c",
            "import sys\ntry:\n    compile(sys.stdin.read(), 'agent.py', 'exec')\nexcept SyntaxError as e:\n    print(e.lineno)\n",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(source.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "python3.13 ran");
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// `lambda --dry-run -o json` of `source` as agent.py in a fresh project.
fn plan_source(source: &str) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.py"), source).unwrap();
    let out = run(agentdeploy(dir.path()).args([
        "lambda",
        "--dry-run",
        "--function-name",
        "x",
        "--agent",
        "agent.py",
        "-o",
        "json",
    ]));
    (dir, out)
}

#[test]
fn what_the_runtimes_python_will_not_compile_is_refused_at_analysis_with_its_line() {
    let main = std::str::from_utf8(AGENT).unwrap();
    let nested_ifs = |levels: usize| {
        let mut text: String = (0..levels)
            .map(|i| format!("{}if x:\n", "    ".repeat(i)))
            .collect();
        text.push_str(&format!("{}pass\n", "    ".repeat(levels)));
        text
    };
    let nested_fstrings =
        |levels: usize| format!("x = {}1{}\n", "f'{".repeat(levels), "}'".repeat(levels));
    // (construct, source after `main`, the line agentdeploy names, its message)
    let refused = [
        (
            "`global` after assignment",
            "def f():\n    x = 1\n    global x\n".to_string(),
            4,
            "used prior to global declaration",
        ),
        (
            "`nonlocal` with no binding",
            "def f():\n    def g():\n        nonlocal y\n".to_string(),
            5,
            "no binding for nonlocal `y`",
        ),
        (
            "`__debug__ = 1`",
            "__debug__ = 1\n".to_string(),
            3,
            "cannot assign to `__debug__`",
        ),
        (
            "an async comprehension at module level",
            "xs = [x async for x in y]\n".to_string(),
            3,
            "asynchronous comprehension outside",
        ),
        (
            "`return x` in an async generator",
            "async def f():\n    yield 1\n    return 2\n".to_string(),
            5,
            "`return` with value in async generator",
        ),
        (
            "`await` in a plain function",
            "def f():\n    await g()\n".to_string(),
            4,
            "`await` outside",
        ),
        (
            "100 levels of indentation",
            nested_ifs(101),
            103,
            "too many levels of indentation",
        ),
        (
            "150 nested f-strings",
            nested_fstrings(150),
            3,
            "too many nested f-strings",
        ),
    ];
    for (construct, tail, line, message) in refused {
        let source = format!("{main}{tail}");
        // The runtime's own compile() refuses it too (on the same line, or on the `global`
        // statement where agentdeploy names the earlier use).
        let theirs = runtime_compile_error_line(&source);
        assert!(theirs.is_some(), "{construct}: python3.13 compiles it");
        let (dir, out) = plan_source(&source);
        assert_eq!(out.status.code(), Some(2), "{construct}: {}", stdout(&out));
        let error = &json(&out)["error"];
        let text = error["message"].as_str().unwrap_or_default();
        assert!(
            text.contains(&format!("agent.py:{line}:")) && text.contains(message),
            "{construct}: {error}"
        );
        assert!(
            !dir.path().join(".agentdeploy").exists(),
            "{construct}: nothing written"
        );
    }
    // One step inside each limit: the runtime compiles it, and so agentdeploy plans it.
    for (construct, tail) in [
        ("99 levels of indentation", nested_ifs(99)),
        ("149 nested f-strings", nested_fstrings(149)),
        (
            "`global` before use",
            "def f():\n    global x\n    x = 1\n".to_string(),
        ),
        (
            "`return` alone in an async generator",
            "async def f():\n    yield 1\n    return\n".to_string(),
        ),
    ] {
        let source = format!("{main}{tail}");
        assert_eq!(runtime_compile_error_line(&source), None, "{construct}");
        let (_dir, out) = plan_source(&source);
        assert_eq!(out.status.code(), Some(0), "{construct}: {}", stdout(&out));
    }
}

#[test]
fn code_nested_past_what_cpython_compiles_is_refused_never_a_crash() {
    let chain = |terms: usize| {
        format!(
            "{}x = 1{}\n",
            std::str::from_utf8(AGENT).unwrap(),
            " + 1".repeat(terms)
        )
    };
    let dir = tempfile::tempdir().unwrap();
    // 9,995 terms: CPython 3.13 compiles it (measured), so agentdeploy plans it.
    std::fs::write(dir.path().join("agent.py"), chain(9_995)).unwrap();
    let out = run(agentdeploy(dir.path()).args([
        "lambda",
        "--dry-run",
        "--function-name",
        "x",
        "--agent",
        "agent.py",
        "-q",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    for (name, source, message) in [
        (
            "9,996 `+ 1` terms",
            chain(9_996),
            "agent.py:3:5: code nested 9998 levels deep",
        ),
        (
            "250,000 `+ 1` terms",
            chain(250_000),
            "CPython cannot compile more than about 9997",
        ),
        (
            "a million unary minuses",
            format!(
                "{}x = {}1\n",
                std::str::from_utf8(AGENT).unwrap(),
                "-".repeat(1_000_000)
            ),
            "code nested 1000002 levels deep",
        ),
        (
            "201 nested parentheses",
            format!(
                "{}x = {}1{}\n",
                std::str::from_utf8(AGENT).unwrap(),
                "(".repeat(201),
                ")".repeat(201)
            ),
            "too many nested parentheses",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent.py"), source).unwrap();
        assert_rejected(
            dir.path(),
            name,
            &["--function-name", "x", "--agent", "agent.py"],
            &[],
            2,
            message,
        );
    }
}

#[test]
fn json_output_carries_the_same_error() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("agent.py", AGENT)]);
    let out = run(agentdeploy(dir.path()).args([
        "lambda",
        "--dry-run",
        "-o",
        "json",
        "--function-name",
        "x",
        "--agent",
        "agent.py",
        "--memory",
        "1",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["error"]["kind"], "usage");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--memory")
    );
}

#[test]
fn a_command_line_the_parser_refuses_is_still_one_json_document_under_o_json() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["lambda", "-o", "json", "--memroy", "512"][..],
        &["-o", "json", "invoke"][..],
        &["--output=json", "no-such-command"][..],
    ] {
        let out = run(agentdeploy(dir.path()).args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let doc = json(&out);
        assert_eq!(doc["status"], "failed", "{args:?}");
        assert_eq!(doc["error"]["kind"], "usage", "{args:?}");
        assert!(!doc["error"]["message"].as_str().unwrap().is_empty());
        assert!(stderr(&out).contains("error:"), "{args:?}");
    }
    // Without -o json, stdout stays empty; help still goes to stdout with exit 0.
    let out = run(agentdeploy(dir.path()).args(["lambda", "--memroy", "512"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let help = run(agentdeploy(dir.path()).args(["-o", "json", "--help"]));
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).contains("Usage"));
}

/// Cases outside the table (they need a symlink or a generated file): (name, command, exit,
/// message), as `symlink_loop_and_oversized_agent_are_refused` runs them.
const EXTRA_AGENT_ROWS: &[(&str, &str, i32, &str)] = &[
    (
        "symlink loop",
        "agentdeploy lambda --function-name x --agent a.py` (a.py -> b.py -> a.py)",
        2,
        "a.py: cannot read",
    ),
    (
        "expression nested deeper than CPython compiles (`x = 1` + 9,996 `+ 1` terms)",
        "agentdeploy lambda --function-name x --agent agent.py`",
        2,
        "agent.py:3:5: code nested 9998 levels deep",
    ),
    (
        "201 nested parentheses",
        "agentdeploy lambda --function-name x --agent agent.py`",
        2,
        "too many nested parentheses",
    ),
    (
        "very large agent file (> 1 MiB)",
        "agentdeploy lambda --function-name x --agent agent.py`",
        2,
        "larger than the 1048576-byte limit",
    ),
];

const HOSTILE_ROWS: &str = r#"| secret-looking files in an agent directory (`.env.production`, `id_rsa`, `*.pem`, `.aws/`, `*.tfstate`, `.npmrc`) | not shipped; a warning names each; `--include PATH` ships one on purpose |
| an out-dir agentdeploy made before, or an old default one under `.agentdeploy/` | reused; a folder whose marker was removed is refused |
| a dry-run while a deploy of the same function runs | waits for the function's lock (`--lock-timeout`), never rewrites the deploy's out-dir (`lifecycle_e2e`) |
| a secret value shorter than 8 characters | exit 2 before any work, the value never printed |
| `--kind code-interpreter --auth none` | exit 2; the interpreter's code cannot read the function's credentials from its parent process |
| DEL, NEL, U+2028, U+FFFF in env vars or tags | escaped: the template and samconfig parse and give the value back exactly |
| an invalid `--s3-bucket` or `--region` | exit 2 naming the flag |
| a failing dry-run (corrupt record) | nothing rendered is left behind; the record is untouched |
| a 64-character function name with a 32-character environment | a valid default stack name (`_` becomes `-`) |
| `main = lambda ...`; an own `lambda_handler` beside `main` | called with the lambda's signature; a warning names the handler Lambda will not call |
| a backslash, quotes or a trailing `\` in a secret | arrive at the function byte for byte (`deploy_e2e`) |
| `destroy NAME` of a stack agentdeploy did not make | exit 2, nothing deleted (`lifecycle_e2e`) |
| `invoke -o json` of a function that errors; a command line the parser refuses under `-o json` | one JSON document on stdout (`known_failures`, this file) |
| an Agent held lazily, in an `lru_cache`, a class attribute, a default argument, nested dicts, a closure, a `partial`, an object, a submodule, a Graph | every caller's request starts from the agent as built; sessions restore it after a cold start (`conversations`) |
| `--conversation session` with `--auth none`, or with a raw `lambda_handler` entry | exit 2: no caller to key sessions by / an entry that answers events itself (`conversations`) |
| `global` after assignment, `nonlocal` with no binding, `__debug__ = 1`, an async comprehension at module level, `return x` in an async generator, `await` in a plain function, 100 indentation levels, 150 nested f-strings | exit 2 at analysis with file:line, each checked against python3.13's own `compile()` (this file) |
| a code-interpreter caller that plants `sitecustomize.py` on every importable path and leaves a double-forked daemon | the next caller's code runs as written; the daemon is dead before the next call and read nothing (`hostile_inputs`) |
| `cost --prices /dev/zero`, a 2 MB config or `.env`; `nan`, `inf` or a negative price | exit 2 naming the file: larger than 1 MiB / not a price (unit tests in `files.rs`, `lambda/pricing.rs`) |
| `--isolation tenant` with a Function URL, an API without auth or `--snapstart`; `--managed-instances` below python3.13, with tenant isolation, `--snapstart` or `--subnet-ids`, with an ARN that is not a capacity provider's or is in another region; `--instance-concurrency` without it | exit 2 naming the flag, before anything is built (`tenant_isolation`, `managed_instances`, unit tests in `lambda/settings.rs`) |
| a deploy that would switch `--isolation` or move the function onto or off managed instances | exit 2 with nothing changed unless `--replace`, which deletes the stack first and says so (`tenant_isolation`, `managed_instances`) |
| a requirements file saved with a byte-order mark | read without it: the rendered line is one pip reads (`dry_run`) |
| 1,000 env vars, or one 10 MB value | exit 2 naming the variable that passes Lambda's 4,096 bytes of environment (unit test in `lambda/settings.rs`) |
| a log line with ANSI escapes or carriage returns; `logs --follow \| head -2` | shown as escapes, never obeyed (unit test in `logs.rs`); --follow ends once nobody reads (`lifecycle_e2e`) |
| a fleet deployed with text output | each agent's warnings follow the table, naming the agent (`dry_run`) |
| the README's `tests/emulator/start 4566 &` from a script (stdin closed) | keeps serving until a signal (`repo_docs`) |
| `rollback` while a deploy of the same function runs | exit 1 at once, naming the deploy's pid: it never moves `live` under a deploy (`lifecycle_e2e`) |
| an import that never returns (`time.sleep(600)`, a server started at import) and starts a daemon in a session of its own | exit 4 naming the import's time limit, nothing deployed, the daemon killed with the sandbox's PID namespace (`deploy_e2e`) |
| an agent whose import reads every `/proc/<pid>/environ`, connects to a local port by a raw socket, a subprocess and `curl`, reads `/etc/shadow`, deletes and writes files of the deployer's in and out of the project, writes into the artifact and plants a pyc, and leaves two daemons | reads only its own variables (secrets as placeholders), sees only its own processes, reaches no network, finds none of those files, cannot write the artifact, its pyc is not shipped, its daemons die with it; no capabilities, uid 1000 (`build_sandbox`) |
| a machine whose kernel refuses user namespaces; `--no-import-probe` | the agent's code is not run at build time: the plan's `build_import` and the report's `bytecode.isolation` say why, and its packages are compiled without running it (`build_sandbox`) |
| an import that fails as every cold start would: a `NameError`, a module in neither the artifact nor the runtime, a name a pure-Python module lacks, `input()` | exit 4 naming the file, line and error, nothing deployed; failures that come from what the sandbox withholds (a variable, the network) only cost bytecode, with a warning (`build_sandbox`, `deploy_e2e`) |
| `--entry función`, `from helpers import main`, `main = real`, `from textwrap import dedent as main` | accepted and called with the input, as Python would (`dry_run`) |
| `destroy` of a session bucket someone turned versioning on | every version and delete marker removed, then the bucket and stack (`conversations`) |
| a failed `DescribeStackResource` (throttling, a CI role without the permission) | an error naming the operation, code, message and request id, never "the log group is not the stack's" (unit test in `deploy.rs`) |
| `a_b` deployed where `a-b` was (one stack name) | exit 2 before anything is deployed, naming the function the stack was made for (unit test in `deploy.rs`; a fleet with both: this file) |
| a local module that is a symbolic link: to a file of the agent's folder / out of it or to nowhere | ships as that file / exit 2 at plan time naming the link (it was skipped with a warning and failed on Lambda) (`hostile_inputs`) |
| a module-level list the entry appends to | a plan warning naming the container and its line: isolation covers Strands agents only (`conversations`) |
| `--stack-name other-team-stack`: a stack agentdeploy never made (a DynamoDB table with data, an SSM parameter), with or without `--force`; `destroy` / `rollback` of it | exit 2 naming the stack and its tags, nothing changed; a dry-run's `planned` entry does not make it ours (`lifecycle_e2e`) |
| `--stack-name` naming another agentdeploy function's stack | exit 2 naming that function; it keeps serving (`lifecycle_e2e`) |
| the shared cache's index rewritten to name the attacker's zip (hash right, signature copied) | the index's HMAC does not match: a warning, the set built here, which replaces it (`fresh_clone_e2e`) |
| a shared resolution naming `pkg @ file:///…`, a URL, `-e`, `--index-url` (even one signed with the cache key) | refused as not pins: a warning, resolved here; nothing from the bucket runs on the deployer (`fresh_clone_e2e`, unit test in `remote_cache.rs`) |
| a signed index whose zip holds `handler.py` (or `agentdeploy_runtime/…`, a module of the agent's), leaves its folder, or unzips past 250 MiB; an index over 64 KiB; a zip larger than 250 MiB | the zip is opened and checked before use: a warning naming why, built here (`fresh_clone_e2e`, unit test in `remote_cache.rs`) |
| `live` moved to version 1 by hand; the Function URL switched to `AuthType NONE` by hand | not "unchanged": deployed again with the reason, `live` back on the deploy's version, the URL's auth set back (`fresh_clone_e2e`) |
| the SSM record rewritten to match a hand-moved `live` | its signature (the stack's digest key) does not match: no record, the deploy goes ahead (`fresh_clone_e2e`) |
| `test --junit` over a PNG, a text file, a symbolic link, a FIFO, `/dev/null`, a folder | exit 2 before any case runs, untouched; results are written 0644 (unit test in `files.rs`, `smoke_e2e`) |
| two and ten callers with sessions at once on one process (the Web Adapter, Managed Instances) | served one at a time: each sees only its own turns, each session stores only its own (`test_streaming.py`) |
| an agent that prints a caller's input that is an EMF document (plain, escaped, indented) | written prefixed `(agent output, not a metric)`: `metrics` counts the one request (`metrics_e2e`, `test_metrics.py`) |
| Strands' default printer leaves a streamed line without a newline | agentdeploy's record starts a line of its own and is counted (`metrics_e2e`, `test_metrics.py`) |
| a lock in the bucket expiring in the year 9999, with ANSI escapes in its holder | stale at once (an expiry beyond a lease), taken over with a warning that shows the escapes (`fresh_clone_e2e`) |
| `rollback` or `destroy` from another checkout while a deploy runs | exit 1 at once naming the deploy (the cross-machine lock); the deploy's own version serves after (`fresh_clone_e2e`) |
| a code-only change (dependencies cached) adding an undefined name, `input()` or an endless sleep at module level | the build-time import runs on the cached dependencies: exit 4 naming the line, nothing deployed; the report's `bytecode` is that import's (`build_sandbox`) |
| a code-interpreter caller writing a file in `/tmp` outside its run folder | on Lambda all of `/tmp` is wiped before and after each call; the next caller finds nothing; outside Lambda only run folders go (`hostile_inputs`) |
| a direct Invoke carrying the stack id's UUID as the origin and a victim's `apiKeyId` | the origin is a secret in SSM (the function's variable names the parameter): the event is the `direct` caller's (`conversations`) |
| `.envrc`, `*_accessKeys.csv`, `rootkey.csv`, `.pgpass`, `*.tfvars`, `.vault-token`, `.azure/` in the agent's folder | not shipped, a warning names each (`hostile_inputs`) |
| `--snapstart` with the region from `--profile` (ap-east-2); a tracing layer or alarm topic in another region | exit 2 after preflight, before anything changes (unit test in `lambda/settings.rs`) |
| `dev --port N` with N in use; a second `dev` of the same agent | exit 2 naming the port and `--port` / naming the first one's process and URL; the first keeps serving (`dev_e2e`) |
| while `dev` serves: an import that raises, the agent file deleted, a new requirement | 503 `{"error": "ImportFailed", "location": "file:line", "message"}` until the next change fixes it / the same naming the file / resolved first, said, then served (`dev_e2e`) |
| Ctrl-C to `dev` and to `chat` (at the prompt) | exit 0; no process left from the dev folder, the port closed (`dev_e2e`, `chat_e2e`) |
| `chat --local` where nothing listens; a chat with an agent that does not stream | exit 2 naming the URL / said once, each answer whole (`chat_e2e`) |
| `sync` of a change to the requirements, to `--memory`; of a `protected = true` environment; while another checkout deploys it | exit 2 naming what changed and the `lambda` command / exit 2 unless `--yes` / exit 1 naming that deploy; `live` unchanged (`sync_e2e`) |
| `lambda` after a `sync`, with the code as the last deploy had it | deployed (not "unchanged": `live` serves the synced code), said, the record's `synced` cleared (`sync_e2e`) |
| `logs --follow` with stdout closed (`>&-`) or its reader gone, and nothing to print | ends at once (`lifecycle_e2e`) |
| the streamed server: a 70 KB chunk-size line, two Content-Lengths, Content-Length with chunks, `1_5` / `+15` / `0xf` sizes, HTTP/1.0, `Expect: 100-continue`, a body nested 100,000 deep, NaN or a lone surrogate in the output | 400 naming the problem / closes after the answer / `100 Continue` first / 400 / valid JSON (`null`, U+FFFD) (`test_streaming.py`); idle connections close after 10 minutes, stalled reads after 60 s |
| metrics `RequestId` / `Alias` from a caller's header | taken only from the adapter's Lambda context, and only in Lambda's shape (`metrics.py`) |
| `main()` calling `sys.exit()` | 500 `{"error": "SystemExit"}`, the process serves the next request (`test_metrics.py`) |
| `expect.within_s` NaN or infinity (YAML `.nan`, TOML `inf`) | exit 2 naming the file: no field takes it (it vanished into null before) (unit test in `smoke.rs`) |
| a deeply nested YAML smoke file | read at most 1 MiB, so parsing stays bounded (decision: no separate depth limit) |
"#;

const EVENT_ROWS: &str = r#"| HTTP body that is not JSON | 400 `{"error": "BadRequest", "message": "the request body is not valid JSON"}` |
| HTTP body that is JSON but not an object (`[1, 2]`) | 400, `the request must be a JSON object` |
| no `input` / `prompt` / `user_input` | 400, `missing "input"` |
| `input` that is not a string | 400, `"input" must be a string` |
| body over 1 MiB (`AGENTDEPLOY_MAX_BODY_BYTES`) | 400, `the request body is too large` |
| `isBase64Encoded` with invalid base64 | 400, `the request body is not valid base64` |
| `main` raises (HTTP) | 500 `{"error": "<ExceptionType>", "request_id": "..."}`; the message and traceback go to the log only (`conversations`) |
| `main` raises (direct Invoke) | `{"error": "<ExceptionType>", "message": "..."}`; the traceback goes to the log |
| a direct Invoke whose `requestContext` names another caller's API key | answered as the `direct` caller: without the stack's stage variable no event can choose a session's owner (`conversations`) |
"#;

/// Which section of the page a case belongs to.
fn section(case: &Case) -> &'static str {
    let config = case
        .files
        .iter()
        .any(|(path, _)| path.starts_with("agentdeploy."))
        || case.name.contains("config")
        || case.name.contains("environment")
        || case.name.contains("--only")
        || case.env.iter().any(|(k, _)| k.starts_with("AGENTDEPLOY"));
    if config {
        "config"
    } else if case.files == [("agent.py", AGENT)] && case.env.is_empty() {
        "flags"
    } else {
        "agent"
    }
}

/// docs/bad-inputs.md, made from the table.
fn bad_inputs_page() -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut page = String::from(
        "# Bad inputs and what agentdeploy says\n\n\
Every row is a case in `tests/suite/bad_inputs.rs`: the test runs it (with `--dry-run`) and checks the exit\n\
code, that the message below appears on stderr (after `error: `), and that nothing was written (no\n\
rendered project, no `.agentdeploy/` record). Errors name the flag, or the file and line, and most\n\
carry a `hint:` line. The test suite makes this page from its table and fails when the two differ;\n\
`AGENTDEPLOY_BLESS=1 cargo test the_bad_inputs_page` rewrites it after a change to the table.\n\n\
Handler inputs (events) are in the last table; `tests/suite/dry_run.rs` drives them through the real handler.\n\n",
    );
    for (key, title) in [
        ("flags", "Flags"),
        ("config", "Config files and environment"),
        ("agent", "Agent files"),
    ] {
        page.push_str(&format!(
            "## {title}\n\n| case | command | exit | message contains |\n|---|---|---|---|\n"
        ));
        for case in CASES.iter().filter(|c| section(c) == key) {
            let env: Vec<String> = case.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
            let command = format!(
                "`{}agentdeploy lambda {}`",
                env.concat(),
                case.args.join(" ")
            );
            page.push_str(&format!(
                "| {} | {} | {} | `{}` |\n",
                case.name,
                cell(&command),
                case.code,
                cell(case.message)
            ));
        }
        if key == "agent" {
            for (name, command, code, message) in EXTRA_AGENT_ROWS {
                page.push_str(&format!(
                    "| {name} | `{} | {code} | `{}` |\n",
                    cell(command),
                    cell(message)
                ));
            }
        }
        page.push('\n');
    }
    page.push_str(
        "## Careless and hostile inputs tested elsewhere\n\n\
Cases that need a deploy, a second process or a generated file; each is a test in\n\
`tests/suite/hostile_inputs.rs` unless named.\n\n| case | what happens |\n|---|---|\n",
    );
    page.push_str(HOSTILE_ROWS);
    page.push('\n');
    page.push_str("## Events reaching the handler\n\n| event | answer |\n|---|---|\n");
    page.push_str(EVENT_ROWS);
    page
}

#[test]
fn the_bad_inputs_page_is_this_table() {
    let path = repo().join("docs/bad-inputs.md");
    let expected = bad_inputs_page();
    if std::env::var_os("AGENTDEPLOY_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/bad-inputs.md differs from the table in tests/suite/bad_inputs.rs: \
         rewrite it with `AGENTDEPLOY_BLESS=1 cargo test the_bad_inputs_page`"
    );
    // Every case of the table is on the page, by name.
    for case in CASES {
        assert!(
            actual.contains(&format!("| {} |", case.name)),
            "{}",
            case.name
        );
    }
}
