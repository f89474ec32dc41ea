//! Careless and hostile inputs beyond the bad-input table: nothing of the user's is
//! deleted or shipped by accident, a dry-run cannot swap the code a deploy is building, and a
//! secret too short to mask never gets as far as a deploy.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::*;

const AGENT: &str =
    "def main(user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n";

fn dry_run(project: &Path, args: &[&str]) -> std::process::Output {
    run(agentdeploy(project)
        .args(["lambda", "--dry-run", "-o", "json", "--function-name", "x"])
        .args(args))
}

#[test]
fn an_out_dir_is_claimed_once_and_reused_and_old_default_out_dirs_still_work() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    // A new folder: claimed with the marker, then reused run after run.
    for _ in 0..2 {
        let out = dry_run(
            project.path(),
            &["--agent", "agent.py", "--out-dir", "build"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(project.path().join("build/.agentdeploy-out-dir").is_file());
        assert!(project.path().join("build/src/handler.py").is_file());
    }
    // Once the marker is gone the folder is no longer taken for agentdeploy's.
    std::fs::remove_file(project.path().join("build/.agentdeploy-out-dir")).unwrap();
    let out = dry_run(
        project.path(),
        &["--agent", "agent.py", "--out-dir", "build"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(project.path().join("build/src/handler.py").is_file());
    // A default out-dir written before the marker existed lives under .agentdeploy/: still ours.
    let legacy = project.path().join(".agentdeploy/default/x/src");
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("stale.py"), "OLD = 1\n").unwrap();
    let out = dry_run(project.path(), &["--agent", "agent.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!legacy.join("stale.py").exists(), "src/ is rebuilt");
}

#[test]
fn secret_looking_files_stay_home_unless_included_by_name() {
    let project = tempfile::tempdir().unwrap();
    let pkg = project.path().join("pkg");
    let files = [
        ("agent.py", AGENT),
        (".env.production", "API_KEY=prod-value-123456\n"),
        (".env.example", "API_KEY=\n"),
        ("id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        ("certs/server.pem", "-----BEGIN CERTIFICATE-----\n"),
        (".aws/credentials", "[default]\n"),
        ("terraform.tfstate", "{}\n"),
        (".npmrc", "//registry.npmjs.org/:_authToken=x\n"),
        (".boto", "[Credentials]\n"),
        (".s3cfg", "[default]\n"),
        ("gcloud/application_default_credentials.json", "{}\n"),
        ("adc/application_default_credentials.json", "{}\n"),
        (".dockercfg", "{}\n"),
        ("service-account.json", "{}\n"),
        ("client_secret.json", "{}\n"),
        ("credentials.json", "{}\n"),
        ("kubeconfig", "apiVersion: v1\n"),
        (".envrc", "export AWS_SECRET_ACCESS_KEY=x\n"),
        ("ops_accessKeys.csv", "Access key ID,Secret access key\n"),
        ("rootkey.csv", "AWSAccessKeyId=x\n"),
        (".pgpass", "db:5432:*:app:pw\n"),
        ("prod.tfvars", "db_password = \"x\"\n"),
        (".vault-token", "s.x\n"),
        (".azure/accessTokens.json", "[]\n"),
        ("prompts/system.txt", "You are helpful.\n"),
    ];
    for (path, text) in files {
        let path = pkg.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = dry_run(project.path(), &["--agent", "pkg"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let shipped = project.path().join(".agentdeploy/default/x/src");
    for left_out in [
        ".env.production",
        "id_rsa",
        "certs/server.pem",
        ".aws",
        "terraform.tfstate",
        ".npmrc",
        ".boto",
        ".s3cfg",
        "gcloud",
        "adc/application_default_credentials.json",
        ".dockercfg",
        "service-account.json",
        "client_secret.json",
        "credentials.json",
        "kubeconfig",
        ".envrc",
        "ops_accessKeys.csv",
        "rootkey.csv",
        ".pgpass",
        "prod.tfvars",
        ".vault-token",
        ".azure",
    ] {
        assert!(!shipped.join(left_out).exists(), "{left_out} was shipped");
        assert!(
            warnings(&doc).iter().any(
                |w| w.contains(&format!("not shipping {left_out}:")) && w.contains("--include")
            ),
            "no warning names {left_out}: {doc:#}"
        );
    }
    assert!(shipped.join("prompts/system.txt").is_file());
    assert!(shipped.join(".env.example").is_file());

    // Named on purpose, it ships and is no longer warned about.
    let out = dry_run(
        project.path(),
        &["--agent", "pkg", "--include", "certs/server.pem"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert!(shipped.join("certs/server.pem").is_file());
    assert!(
        !warnings(&doc)
            .iter()
            .any(|w| w.contains("certs/server.pem"))
    );
    assert!(!shipped.join("id_rsa").exists());
}

#[test]
fn a_dry_run_waits_for_the_function_lock_instead_of_rewriting_a_deploys_out_dir() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    let locks = project.path().join(".agentdeploy/locks");
    std::fs::create_dir_all(&locks).unwrap();
    // Another process holds the function's lock, as a deploy in progress does.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys\n\
             f = open(sys.argv[1], 'a')\n\
             fcntl.flock(f, fcntl.LOCK_EX)\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n",
        ])
        .arg(locks.join("default__x.lock"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");

    let out = dry_run(
        project.path(),
        &["--agent", "agent.py", "--lock-timeout", "0"],
    );
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("another agentdeploy"), "{err}");
    assert!(
        !project.path().join(".agentdeploy/default/x/src").exists(),
        "the dry-run wrote the out-dir while the lock was held"
    );

    holder.stdin.take().unwrap().write_all(b"done").unwrap();
    holder.wait().unwrap();
    let out = dry_run(
        project.path(),
        &["--agent", "agent.py", "--lock-timeout", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_secret_too_short_to_mask_is_refused_before_any_work() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    let out = run(agentdeploy(project.path())
        .args([
            "lambda",
            "--function-name",
            "x",
            "--agent",
            "agent.py",
            "--secret",
            "SHORT_TOKEN",
        ])
        .env("SHORT_TOKEN", "abc12"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "the value of secret SHORT_TOKEN (from the environment) is shorter than 8 characters"
        ),
        "{err}"
    );
    assert!(!err.contains("abc12"));
    assert!(!project.path().join(".agentdeploy").exists());
}

#[test]
fn a_code_interpreter_is_never_public_and_its_code_cannot_read_the_functions_credentials() {
    let project = tempfile::tempdir().unwrap();
    for (endpoint, args) in [
        ("url", &["--endpoint", "url", "--auth", "none"][..]),
        ("api", &["--endpoint", "api", "--auth", "none"][..]),
    ] {
        let out = plan_code_interpreter(project.path(), args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{endpoint}: {err}");
        assert!(
            err.contains("--auth: a code interpreter runs whatever code it is sent"),
            "{err}"
        );
    }

    // The rendered interpreter, run as an unprivileged user (root may read any process), with
    // the role's credentials in its environment as Lambda gives them.
    let handler = rendered_code_interpreter(project.path()).join("handler.py");
    let shared = tempfile::Builder::new()
        .prefix("ci-proc-")
        .tempdir()
        .unwrap();
    let open = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    open(shared.path(), 0o777);
    std::fs::copy(&handler, shared.path().join("handler.py")).unwrap();
    open(&shared.path().join("handler.py"), 0o644);
    let work_root = shared.path().join("work");
    std::fs::create_dir(&work_root).unwrap();
    open(&work_root, 0o777);
    let secret = format!("role-secret-{}-never-readable", std::process::id());
    let code = "import os\n\
                try:\n    print(open(f'/proc/{os.getppid()}/environ', 'rb').read())\n\
                except OSError as err:\n    print('parent environ:', type(err).__name__)\n\
                print(sorted(k for k in os.environ if k.startswith('AWS')))\n";
    let driver = format!(
        "import json, sys\nsys.path.insert(0, {dir:?})\nimport handler\n\
         print(json.dumps(handler.lambda_handler({{'code': {code:?}}}, None)))\n",
        dir = shared.path().to_str().unwrap(),
    );
    let is_root = runs_as_root();
    let mut cmd = if is_root {
        // Root reads every process; the claim is about the unprivileged user Lambda runs as.
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
        ]);
        cmd
    } else {
        Command::new(python313())
    };
    let out = cmd
        .args(["-c", &driver])
        .current_dir(shared.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_SESSION_TOKEN", &secret)
        .env("CODE_INTERPRETER_WORK_ROOT", &work_root)
        .output()
        .unwrap();
    let (out_text, err_text) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{out_text}\n{err_text}");
    assert!(
        !out_text.contains(&secret),
        "the code read the role's secret: {out_text}"
    );
    let answer: Value = serde_json::from_str(out_text.lines().last().unwrap()).unwrap();
    let printed = answer["stdout"].as_str().unwrap();
    assert!(
        printed.contains("parent environ: PermissionError"),
        "{answer:#}"
    );
    assert!(
        printed.contains("[]"),
        "AWS variables reached the code: {answer:#}"
    );
}

/// Whether the tests run as root (then the unprivileged check runs under `setpriv`).
fn runs_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_main_rebound_to_a_lambda_is_called_as_such_and_an_own_lambda_handler_is_named() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("agent.py"),
        "def main(user_input_arg=None, input_data_arg=None):\n    return 'def'\n\n\
         main = lambda question=None, data=None: f'lambda:{question}'\n\n\
         def lambda_handler(event, context):\n    return {'mine': True}\n",
    )
    .unwrap();
    let out = dry_run(project.path(), &["--agent", "agent.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["plan"]["entry"]["name"], "main", "{doc:#}");
    assert_eq!(doc["plan"]["entry"]["line"], 4, "{doc:#}");
    assert_eq!(
        doc["plan"]["main"]["parameters"],
        serde_json::json!(["question", "data"])
    );
    assert!(
        warnings(&doc).iter().any(|w| w.contains(
            "agent.py:6: the agent's own `lambda_handler` is not what Lambda calls: the handler calls `main` (pass --entry lambda_handler to use yours)"
        )),
        "{doc:#}"
    );
}

/// Values YAML or TOML cannot carry raw (DEL, NEL, U+2028, U+FFFF) are escaped: the rendered
/// template and samconfig parse, and give back exactly the values given.
#[test]
fn values_yaml_and_toml_cannot_carry_raw_arrive_exactly() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    let odd = "a\u{7f}b\u{85}c\u{2028}d\u{ffff}e'<&>\"\\";
    let out = dry_run(
        project.path(),
        &[
            "--agent",
            "agent.py",
            "--env-var",
            &format!("ODD={odd}"),
            "--tag",
            &format!("team={odd}"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out_dir = project.path().join(".agentdeploy/default/x");
    let check = "import json, sys, tomllib, yaml\n\
         class Loader(yaml.SafeLoader): pass\n\
         Loader.add_multi_constructor('!', lambda loader, suffix, node: None)\n\
         template = yaml.load(open(sys.argv[1], encoding='utf-8'), Loader=Loader)\n\
         props = template['Resources']['AgentFunction']['Properties']\n\
         tomllib.load(open(sys.argv[2], 'rb'))\n\
         print(json.dumps([props['Environment']['Variables']['ODD'], props['Tags']['team']]))\n";
    let parsed = Command::new(venv_bin("python"))
        .args(["-c", check])
        .arg(out_dir.join("template.yaml"))
        .arg(out_dir.join("samconfig.toml"))
        .output()
        .unwrap();
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    let values: Vec<String> = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(values, [odd, odd]);
}

#[test]
fn bucket_names_and_regions_are_checked_like_other_values() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    for (args, message) in [
        (
            &["--s3-bucket", "My_Bucket"][..],
            "--s3-bucket: `My_Bucket` is not a valid S3 bucket name",
        ),
        (
            &["--s3-bucket", "b\u{7f}ucket"][..],
            "is not a valid S3 bucket name",
        ),
        (
            &["--region", "us-east-1\"\nx: y"][..],
            "is not an AWS region code",
        ),
    ] {
        let out = dry_run(
            project.path(),
            &[&["--agent", "agent.py"][..], args].concat(),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = dry_run(
        project.path(),
        &[
            "--agent",
            "agent.py",
            "--region",
            "us-gov-west-1",
            "--s3-bucket",
            "my.bucket-1",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_dry_run_that_fails_leaves_no_rendered_project_behind() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    std::fs::create_dir(project.path().join(".agentdeploy")).unwrap();
    std::fs::write(project.path().join(".agentdeploy/state.json"), "{ not json").unwrap();
    let out = dry_run(project.path(), &["--agent", "agent.py"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));
    assert!(
        !project.path().join(".agentdeploy/default/x").exists(),
        "the rendered project was left behind"
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join(".agentdeploy/state.json")).unwrap(),
        "{ not json"
    );
}

/// The longest function name with the longest environment name still gives a valid default
/// stack name (nothing blames a --stack-name that was never given), `_` included.
#[test]
fn the_longest_names_give_a_valid_default_stack_name() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("agent.py"), AGENT).unwrap();
    let function = format!("my_agent_{}", "x".repeat(55));
    let env = format!("prod-{}", "e".repeat(27));
    assert_eq!((function.len(), env.len()), (64, 32));
    std::fs::write(
        project.path().join("agentdeploy.toml"),
        format!("[agents.{function}]\nagent = \"agent.py\"\n\n[environments.{env}]\n"),
    )
    .unwrap();
    let out = run(agentdeploy(project.path()).args([
        "lambda",
        "--dry-run",
        "-o",
        "json",
        "--all",
        "-e",
        &env,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let stack = doc["stack_name"]
        .as_str()
        .unwrap_or_else(|| doc["deployments"][0]["stack_name"].as_str().unwrap());
    assert_eq!(
        stack,
        format!("agentdeploy-{}-{env}", function.replace('_', "-"))
    );
}

/// `agentdeploy lambda --dry-run --kind code-interpreter --function-name python`, plus `extra`.
fn plan_code_interpreter(project: &Path, extra: &[&str]) -> std::process::Output {
    run(agentdeploy(project)
        .args([
            "lambda",
            "--dry-run",
            "--kind",
            "code-interpreter",
            "--function-name",
            "python",
        ])
        .args(extra))
}

/// `--kind code-interpreter` planned in `project`: the folder its handler was rendered into.
fn rendered_code_interpreter(project: &Path) -> std::path::PathBuf {
    let out = plan_code_interpreter(project, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    project.join(".agentdeploy/default/mcp-tool-python/src")
}

/// python3.13 running `driver` with a clean environment, the runtime's interpreter first on PATH
/// (as Lambda puts /var/lang/bin).
fn interpreter_driver(driver: &str) -> Command {
    let mut command = Command::new(python313());
    command.args(["-c", driver]).env_clear().env(
        "PATH",
        format!("{}:/usr/bin:/bin", python313().parent().unwrap().display()),
    );
    command
}

#[test]
fn one_code_interpreter_caller_cannot_change_what_the_next_runs_or_outlive_its_call() {
    let project = tempfile::tempdir().unwrap();
    let src = rendered_code_interpreter(project.path());
    let work_root = tempfile::tempdir().unwrap();
    // Caller A: code on every path the next caller's Python might import from, and a daemon
    // (forked twice, in a session of its own) that copies whatever code runs next.
    let attacker = r#"
import os, sys
hook = "import builtins\nbuiltins.print('HIJACKED')\n"
root = os.path.dirname(os.path.dirname(os.getcwd()))
for folder in [os.environ["PYTHONPATH"], root, os.path.join(root, "code-interpreter-packages")]:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w") as f:
        f.write(hook)
# A note outside its run folder, for the next caller to find.
with open(os.path.join(root, "alice-note.txt"), "w") as f:
    f.write("alice-secret-0815")
ready_r, ready_w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(ready_w, f"{os.getpid():>10}".encode())
        while True:
            for dirpath, _, names in os.walk(root):
                if "main.py" in names and dirpath != os.getcwd():
                    with open(os.path.join(dirpath, "main.py")) as src, open(os.path.join(root, "stolen.txt"), "a") as out:
                        out.write(src.read())
    os._exit(0)
daemon = int(os.read(ready_r, 10))  # the daemon is running before this call ends
print("planted", daemon)
"#;
    let victim = "import glob, os\nprint('bob says hi')\nprint('bob-secret-4711')\n\
                  root = os.path.dirname(os.path.dirname(os.getcwd()))\n\
                  print(sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, '*'))))\n";
    let driver = format!(
        "import json, os, sys\nsys.path.insert(0, {src:?})\nimport handler\n\
         first = handler.lambda_handler({{'code': {attacker:?}}}, None)\n\
         pid = int(first['stdout'].split()[1])\n\
         second = handler.lambda_handler({{'code': {victim:?}}}, None)\n\
         stolen = os.path.join({root:?}, 'stolen.txt')\n\
         print(json.dumps({{'first': first, 'second': second, 'daemon_alive': os.path.exists(f'/proc/{{pid}}'),\n\
                            'stolen': open(stolen).read() if os.path.exists(stolen) else ''}}))\n",
        src = src.to_str().unwrap(),
        root = work_root.path().to_str().unwrap(),
    );
    let out = interpreter_driver(&driver)
        .env("CODE_INTERPRETER_WORK_ROOT", work_root.path())
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    let answer: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        answer["first"]["stdout"]
            .as_str()
            .unwrap()
            .starts_with("planted "),
        "{answer:#}"
    );
    // The next caller's code ran as written: nothing the first one planted was imported, and
    // nothing it wrote anywhere in the writable area is left (only the next run's own folder)...
    let second = answer["second"]["stdout"].as_str().unwrap();
    assert!(
        second.starts_with("bob says hi\nbob-secret-4711\n['code-interpreter-run-"),
        "{answer:#}"
    );
    assert_eq!(
        second.matches(", ").count(),
        0,
        "one entry only: {answer:#}"
    );
    // ...and nothing it started outlived its call to read the next one's code.
    assert_eq!(answer["daemon_alive"], false, "{answer:#}");
    assert!(
        !answer["stolen"].as_str().unwrap().contains("bob-secret"),
        "{answer:#}"
    );
}

#[test]
fn a_linked_local_module_ships_and_a_link_leading_out_of_the_folder_is_refused_at_plan_time() {
    let project = tempfile::tempdir().unwrap();
    let pkg = project.path().join("pkg");
    std::fs::create_dir_all(pkg.join("shared")).unwrap();
    std::fs::write(
        pkg.join("agent.py"),
        "import helpers\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return helpers.GREETING\n",
    )
    .unwrap();
    std::fs::write(pkg.join("shared/helpers_impl.py"), "GREETING = 'hi'\n").unwrap();
    // The module the agent imports is a link to a file of the folder: it ships as that file.
    std::os::unix::fs::symlink("shared/helpers_impl.py", pkg.join("helpers.py")).unwrap();
    // A secret-named link is left out with the usual warning, wherever it leads.
    std::os::unix::fs::symlink("/etc", pkg.join(".aws")).unwrap();
    let out = dry_run(project.path(), &["--agent", "pkg"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shipped = project.path().join(".agentdeploy/default/x/src");
    assert!(!shipped.join("helpers.py").is_symlink());
    assert_eq!(
        std::fs::read_to_string(shipped.join("helpers.py")).unwrap(),
        "GREETING = 'hi'\n"
    );
    assert!(!shipped.join(".aws").exists());

    // A link out of the folder (or to nowhere) is refused now, not an ImportError on Lambda.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret_helpers.py"), "X = 1\n").unwrap();
    for (name, target) in [
        ("tools.py", outside.path().join("secret_helpers.py")),
        ("gone.py", pkg.join("missing.py")),
    ] {
        std::os::unix::fs::symlink(&target, pkg.join(name)).unwrap();
        let out = dry_run(project.path(), &["--agent", "pkg"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("`{name}` is a symbolic link")),
            "{name}: {}",
            stderr(&out)
        );
        std::fs::remove_file(pkg.join(name)).unwrap();
    }
}

/// Outside Lambda (a developer's machine, the local AWS), /tmp is the machine's: the code
/// interpreter removes only its own run folders there, never another program's files.
#[test]
fn the_code_interpreter_never_wipes_a_tmp_that_is_not_the_functions_own() {
    let project = tempfile::tempdir().unwrap();
    let src = rendered_code_interpreter(project.path());
    let canary = tempfile::Builder::new()
        .prefix("agentdeploy-canary-")
        .tempfile_in("/tmp")
        .unwrap();
    let driver = format!(
        "import json, sys\nsys.path.insert(0, {src:?})\nimport handler\n\
         print(json.dumps(handler.lambda_handler({{'code': 'print(6 * 7)'}}, None)))\n",
        src = src.to_str().unwrap(),
    );
    let out = interpreter_driver(&driver)
        // What the local AWS sets: a function name, its code folder somewhere other than /var/task.
        .env("AWS_LAMBDA_FUNCTION_NAME", "python")
        .env("LAMBDA_TASK_ROOT", &src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(answer["stdout"], "42\n", "{answer:#}");
    assert!(
        canary.path().exists(),
        "another program's file in /tmp was removed"
    );
}
