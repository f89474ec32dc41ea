//! Careless and hostile inputs beyond the bad-input table (issue 16): nothing of the user's is
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

fn warnings(doc: &Value) -> Vec<String> {
    doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
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
