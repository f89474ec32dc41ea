//! A fresh checkout of the project (a CI runner) against a deployment another machine made
//! (reference §7 "The stack is the record"): what the next deploy needs is read from AWS, so an
//! unchanged agent is `unchanged` from any checkout, a changed secret still redeploys, and the
//! key its value is digested with is nowhere on disk.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;

const NAME: &str = "fresh";
const STACK: &str = "agentdeploy-fresh";

/// A checkout of the project: the agent only (no `.agentdeploy/`, as git leaves it).
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), dir.path().join("agent.py")).unwrap();
    dir
}

fn agentdeploy_in(aws: &LocalAws, dir: &Path, token: &str, args: &[&str]) -> Command {
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path())
        .env("AGENT_API_TOKEN", token)
        .args(args);
    cmd
}

/// `agentdeploy lambda -o json` of the checkout's agent as `name`, with `extra` flags.
fn deploy_command(aws: &LocalAws, dir: &Path, name: &str, token: &str, extra: &[&str]) -> Command {
    let mut args = crate::lifecycle_e2e::deploy_args(name);
    args.extend(["--secret".into(), "AGENT_API_TOKEN".into()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    agentdeploy_in(aws, dir, token, &args)
}

fn deploy(aws: &LocalAws, dir: &Path, token: &str) -> Value {
    let out = run(&mut deploy_command(aws, dir, NAME, token, &[]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    doc
}

#[test]
fn a_fresh_checkout_finds_an_unchanged_agent_unchanged_and_a_changed_secret_redeploys() {
    let aws = LocalAws::start();
    let token = "tok-3f9a1c77e2b04d5d";
    let first = checkout();
    assert_eq!(deploy(&aws, first.path(), token)["status"], "deployed");

    // Another machine, nothing on disk: unchanged, read from AWS, without pip or sam.
    let second = checkout();
    let doc = deploy(&aws, second.path(), token);
    assert_eq!(doc["status"], "unchanged", "{doc:#}");
    assert_eq!(doc["time_ms"]["sam"], 0, "{doc:#}");
    assert_eq!(doc["time_ms"]["pip"], 0, "{doc:#}");
    assert!(
        doc["build"]["artifact_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0),
        "the build the first machine made is reported: {doc:#}"
    );
    // The key the secret is digested with is a SecureString in AWS, not a file here.
    let kind = aws.boto3(&format!(
        "print(client('ssm').get_parameter(Name='/agentdeploy/{STACK}/record/digest-key')['Parameter']['Type'])"
    ));
    assert_eq!(kind.trim(), "SecureString");
    for dir in [first.path(), second.path()] {
        assert!(!dir.join(".agentdeploy/digest.key").exists());
        assert_no_file_contains(dir, token);
    }

    // The same agent with another secret value is a change, from any checkout.
    let third = checkout();
    let doc = deploy(&aws, third.path(), "tok-another-value-91c2");
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    // And callers of `live` get the new value: a new version was published for it.
    let answer = run(&mut agentdeploy_in(
        &aws,
        third.path(),
        token,
        &["invoke", NAME, "--input", "hi", "-o", "json"],
    ));
    assert_eq!(
        json(&answer)["output"]["secret_sha256"],
        sha256_hex("tok-another-value-91c2"),
        "{}",
        stdout(&answer)
    );
    // And the first machine, whose record names the old hash, now finds the new value's deploy.
    let doc = deploy(&aws, first.path(), "tok-another-value-91c2");
    assert_eq!(doc["status"], "unchanged", "{doc:#}");

    // A rollback from one checkout is seen by a deploy from another: not unchanged, and `live`
    // serves the deployed version again.
    let live = |dir: &Path| {
        let out = run(&mut agentdeploy_in(
            &aws,
            dir,
            token,
            &["status", NAME, "-o", "json"],
        ));
        let doc = json(&out);
        let versions = doc["versions"].as_array().cloned().unwrap_or_default();
        versions
            .iter()
            .find(|v| v["live"] == true)
            .map(|v| v["version"].clone())
            .unwrap_or_else(|| panic!("no live version: {doc:#}"))
    };
    let changed_code = |dir: &Path| {
        let agent = dir.join("agent.py");
        let code = std::fs::read_to_string(&agent).unwrap();
        std::fs::write(&agent, format!("{code}\n# the second release\n")).unwrap();
    };
    let released = checkout();
    changed_code(released.path());
    assert_eq!(
        deploy(&aws, released.path(), "tok-another-value-91c2")["status"],
        "deployed"
    );
    let serving = live(released.path());
    let rolled = checkout();
    let out = run(&mut agentdeploy_in(
        &aws,
        rolled.path(),
        token,
        &["rollback", NAME, "--yes", "-o", "json"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(live(rolled.path()), serving);
    let forward = checkout();
    changed_code(forward.path());
    let doc = deploy(&aws, forward.path(), "tok-another-value-91c2");
    assert_ne!(doc["status"], "unchanged", "{doc:#}");
    assert_eq!(live(forward.path()), serving);

    // list from a fresh checkout reads the region's stacks: no record here, the deployment there.
    let listed = run(&mut agentdeploy_in(
        &aws,
        checkout().path(),
        token,
        &["list", "-o", "json"],
    ));
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let listed = json(&listed);
    assert_eq!(listed["deployments"], serde_json::json!([]), "{listed:#}");
    let found = listed["in_aws"]["deployments"].as_array().unwrap();
    let ours = found
        .iter()
        .find(|d| d["function_name"] == NAME)
        .unwrap_or_else(|| panic!("{listed:#}"));
    assert_eq!(ours["stack_name"], STACK);
    assert!(
        ours["stack_status"]
            .as_str()
            .unwrap()
            .ends_with("_COMPLETE"),
        "{listed:#}"
    );
    assert!(
        ours["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("https://")),
        "{listed:#}"
    );
    // A project's config names its agents: another project's deployment is not listed.
    let other_project = checkout();
    std::fs::write(
        other_project.path().join("agentdeploy.toml"),
        "[agents.someone-else]\nagent = \"agent.py\"\n",
    )
    .unwrap();
    let listed = json(&run(&mut agentdeploy_in(
        &aws,
        other_project.path(),
        token,
        &["list", "-o", "json"],
    )));
    assert_eq!(
        listed["in_aws"]["deployments"],
        serde_json::json!([]),
        "{listed:#}"
    );

    // destroy from a fresh checkout removes the deployment's record with it.
    let fourth = checkout();
    let out = run(&mut agentdeploy_in(
        &aws,
        fourth.path(),
        token,
        &["destroy", NAME, "--yes", "-o", "json"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let left = aws.boto3(&format!(
        "print(len(client('ssm').get_parameters_by_path(Path='/agentdeploy/{STACK}/', Recursive=True)['Parameters']))"
    ));
    assert_eq!(left.trim(), "0");
}

/// reference §7 "one deploy of a function at a time across machines": two checkouts deploying the
/// same function at once never interleave. The first holds the lock in the artifact bucket for
/// its whole deploy (it is frozen mid-deploy here, so the overlap is certain); a second that will
/// not wait is refused naming it; one that waits proceeds after it, and finds its inputs deployed.
/// A lock a stopped run left behind expires and is taken over.
#[test]
fn two_checkouts_deploying_at_once_never_interleave_and_a_stopped_runs_lock_expires() {
    const LOCKED: &str = "locked";
    let aws = LocalAws::start();
    let token = "tok-lock-5d1e";
    let (a, b, c) = (checkout(), checkout(), checkout());
    let first = crate::lifecycle_e2e::spawn_until_phase(
        deploy_command(&aws, a.path(), LOCKED, token, &[]),
        LOCKED,
        "resolving dependencies",
    );
    let pid = first.id() as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);

    let refused = run(&mut deploy_command(
        &aws,
        b.path(),
        LOCKED,
        token,
        &["--lock-timeout", "0"],
    ));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let doc = json(&refused);
    assert_eq!(doc["error"]["kind"], "state", "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("another agentdeploy (")
            && message.contains(&format!("pid {pid})"))
            && message.contains("is deploying locked")
            && message
                .contains("s3://agentdeploy-artifacts/agentdeploy/locks/agentdeploy-locked.json"),
        "{message}"
    );
    assert!(
        !b.path()
            .join(".agentdeploy/default/locked/.aws-sam")
            .exists(),
        "refused before building anything"
    );

    let waiter = crate::lifecycle_e2e::spawn_until_phase(
        deploy_command(&aws, c.path(), LOCKED, token, &["--lock-timeout", "600"]),
        LOCKED,
        "waiting for the deploy of",
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    assert_eq!(json(&first)["status"], "deployed");
    let waited = waiter.wait_with_output().unwrap();
    assert_eq!(waited.status.code(), Some(0), "{}", stdout(&waited));
    let doc = json(&waited);
    assert_eq!(
        doc["status"], "unchanged",
        "the deploy it waited for shipped these inputs: {doc:#}"
    );

    // One version, live, and no lock left behind.
    let status = json(&run(&mut agentdeploy_in(
        &aws,
        b.path(),
        token,
        &["status", LOCKED, "-o", "json"],
    )));
    let versions = status["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{status:#}");
    assert_eq!(versions[0]["live"], true, "{status:#}");
    let lock_exists = |aws: &LocalAws| {
        aws.boto3(
            "objects = client('s3').list_objects_v2(Bucket='agentdeploy-artifacts', Prefix='agentdeploy/locks/')\n\
             print(len(objects.get('Contents', [])))",
        )
        .trim()
        .to_string()
    };
    assert_eq!(lock_exists(&aws), "0");

    // A run killed mid-deploy leaves its lock; once expired, the next deploy takes it over.
    aws.boto3(
        "client('s3').put_object(Bucket='agentdeploy-artifacts', Key='agentdeploy/locks/agentdeploy-locked.json', \
         Body=json.dumps({'holder': 'ci@gone pid 7', 'token': 'x', 'acquired_at': 1, 'expires_at': 2}))",
    );
    let out = run(&mut deploy_command(
        &aws,
        b.path(),
        LOCKED,
        token,
        &["--lock-timeout", "0"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc = json(&out);
    assert_eq!(doc["status"], "unchanged");
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("took over the deploy lock") && w.contains("ci@gone pid 7")),
        "{doc:#}"
    );
    assert_eq!(lock_exists(&aws), "0");

    // A forged lock claiming to last until the year 9999 (no renewing holder writes that) is
    // stale at once; its holder's escapes are shown, not obeyed.
    aws.boto3(
        "client('s3').put_object(Bucket='agentdeploy-artifacts', Key='agentdeploy/locks/agentdeploy-locked.json', \
         Body=json.dumps({'holder': 'evil\\u001b[2J pid 9', 'token': 'y', 'acquired_at': 1, 'expires_at': 253402300799}))",
    );
    let out = run(&mut deploy_command(
        &aws,
        b.path(),
        LOCKED,
        token,
        &["--lock-timeout", "0"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc = json(&out);
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("took over the deploy lock")
                && w.contains(r"evil\u{1b}[2J pid 9")
                && !w.contains('\u{1b}')),
        "{doc:#}"
    );
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    assert_eq!(lock_exists(&aws), "0");

    // While a deploy from one checkout runs, a rollback or a destroy from another is refused
    // naming it (the cross-machine lock, not only this checkout's), and changes nothing.
    let deploying = crate::lifecycle_e2e::spawn_until_phase(
        deploy_command(&aws, a.path(), LOCKED, token, &["--force"]),
        LOCKED,
        "resolving dependencies",
    );
    let pid = deploying.id() as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    for args in [["rollback", LOCKED, "--yes"], ["destroy", LOCKED, "--yes"]] {
        let mut other = agentdeploy_in(&aws, c.path(), token, &args);
        other.env("AGENTDEPLOY_S3_BUCKET", local_aws::BUCKET);
        let out = run(&mut other);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("pid {pid}) is deploying locked")),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let done = deploying.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", stdout(&done));
    let doc = json(&done);
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    let status = json(&run(&mut agentdeploy_in(
        &aws,
        b.path(),
        token,
        &["status", LOCKED, "-o", "json"],
    )));
    let versions = status["versions"].as_array().unwrap();
    assert_eq!(
        versions.iter().filter(|v| v["live"] == true).count(),
        1,
        "{status:#}"
    );
    assert_eq!(
        versions.last().unwrap()["live"],
        true,
        "the deploy's own version serves: {status:#}"
    );
}

/// reference §7 "A shared build cache": the dependency zip one machine built is stored
/// content-addressed in the artifact bucket; a fresh checkout with a code change deploys its code
/// alone on it (no pip, no `sam build`); a zip whose hash does not match is never used; and
/// `--no-remote-cache` builds locally.
#[test]
fn a_fresh_checkout_deploys_code_only_on_the_dependencies_another_machine_built() {
    const CACHED: &str = "cached";
    let aws = LocalAws::start();
    let token = "tok-cache-8e21";
    // An agent with one small dependency (`six`, from PyPI), and a change per checkout.
    let checkout_with_dependency = |release: &str| {
        let dir = checkout();
        let agent = dir.path().join("agent.py");
        let code = std::fs::read_to_string(&agent).unwrap();
        std::fs::write(
            &agent,
            format!(
                "import six\n{code}\nRELEASE = {release:?}  # {}\n",
                "six.PY3"
            ),
        )
        .unwrap();
        dir
    };
    let deploy_in = |dir: &Path, extra: &[&str]| -> Value {
        let out = run(&mut deploy_command(&aws, dir, CACHED, token, extra));
        let doc = json(&out);
        assert_eq!(out.status.code(), Some(0), "{doc:#}");
        assert_eq!(doc["status"], "deployed", "{doc:#}");
        doc
    };

    let first = checkout_with_dependency("one");
    let doc = deploy_in(first.path(), &[]);
    assert_eq!(doc["build"]["remote_cache"], "stored", "{doc:#}");
    let stored = aws.boto3(
        "objects = client('s3').list_objects_v2(Bucket='agentdeploy-artifacts', Prefix='agentdeploy/cache/v2/')\n\
         print('\\n'.join(sorted(o['Key'] for o in objects.get('Contents', []))))",
    );
    let keys: Vec<&str> = stored.lines().collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("agentdeploy/cache/v2/resolved/resolved-")),
        "{keys:?}"
    );
    let zip_key = keys
        .iter()
        .find(|k| k.ends_with(".zip"))
        .unwrap_or_else(|| panic!("no dependency zip stored: {keys:?}"))
        .to_string();

    // Another machine, another release of the code: the dependencies come from the bucket.
    let second = checkout_with_dependency("two");
    let doc = deploy_in(second.path(), &[]);
    assert_eq!(doc["build"]["remote_cache"], "hit", "{doc:#}");
    assert_eq!(doc["build"]["resolved_by"], "cache", "{doc:#}");
    assert_eq!(doc["build"]["cached"], true, "{doc:#}");
    // No resolver ran; the new code was still imported at build time, on the shared dependencies.
    assert_eq!(doc["build"]["bytecode"]["isolation"], "sandbox", "{doc:#}");
    assert!(
        !second
            .path()
            .join(".agentdeploy/default/cached/.aws-sam/build/AgentFunction")
            .exists(),
        "no sam build ran"
    );
    let answer = run(&mut agentdeploy_in(
        &aws,
        second.path(),
        token,
        &["invoke", CACHED, "--input", "hi", "-o", "json"],
    ));
    assert_eq!(answer.status.code(), Some(0), "{}", stdout(&answer));
    assert_eq!(json(&answer)["output"]["echo"], "hi");

    // A zip that is not what its hash says is refused, and the set is built here instead.
    aws.boto3(&format!(
        "client('s3').put_object(Bucket='agentdeploy-artifacts', Key='{zip_key}', Body=b'not the zip')"
    ));
    let third = checkout_with_dependency("three");
    let doc = deploy_in(third.path(), &[]);
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("does not match its hash") && w.contains("building here")),
        "{doc:#}"
    );
    assert_eq!(
        doc["build"]["remote_cache"], "stored",
        "the build made here replaces the bad zip: {doc:#}"
    );
    let answer = run(&mut agentdeploy_in(
        &aws,
        third.path(),
        token,
        &["invoke", CACHED, "--input", "hi", "-o", "json"],
    ));
    assert_eq!(json(&answer)["output"]["echo"], "hi", "{}", stdout(&answer));

    // Repaired: the next machine uses the bucket again.
    let repaired = checkout_with_dependency("three-and-a-half");
    assert_eq!(
        deploy_in(repaired.path(), &[])["build"]["remote_cache"],
        "hit"
    );

    // Turned off: nothing is read from the bucket.
    let fourth = checkout_with_dependency("four");
    let doc = deploy_in(fourth.path(), &["--no-remote-cache"]);
    assert_eq!(doc["build"]["remote_cache"], "off", "{doc:#}");
    assert_ne!(doc["build"]["resolved_by"], "cache", "{doc:#}");
}

/// Python that rewrites objects of the shared cache as someone with write access to the artifact
/// bucket would (`put(key, body, mac)`), and `signed(key, body)`: the HMAC agentdeploy's cache key
/// gives (read from SSM, as only a deployer can) to reach the checks behind the signature.
const CACHE_WRITER: &str = "import hashlib, hmac, io, zipfile\n\
s3 = client('s3')\n\
BUCKET = 'agentdeploy-artifacts'\n\
def cache_key():\n    \
    return bytes.fromhex(client('ssm').get_parameter(Name='/agentdeploy/cache/key', WithDecryption=True)['Parameter']['Value'])\n\
def signed(key, body):\n    \
    return hmac.new(cache_key(), key.encode() + b'\\0' + body, hashlib.sha256).hexdigest()\n\
def put(key, body, mac=None):\n    \
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={'agentdeploy-mac': mac} if mac else {})\n\
def keys(suffix):\n    \
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix='agentdeploy/cache/v2/').get('Contents', [])\n    \
    return [o['Key'] for o in found if o['Key'].endswith(suffix)]\n\
def old_mac(key):\n    \
    return s3.head_object(Bucket=BUCKET, Key=key)['Metadata'].get('agentdeploy-mac')\n\
def zipped(files):\n    \
    out = io.BytesIO()\n    \
    with zipfile.ZipFile(out, 'w') as z:\n        \
        for name, text in files.items():\n            \
            z.writestr(name, text)\n    \
    return out.getvalue()\n\
def index_key():\n    \
    return [k for k in keys('.json')][0]\n";

/// reference §7 "A shared build cache" against someone who can write the artifact bucket: an
/// index rewritten to name the attacker's zip, a resolution naming a file URL, a zip holding a
/// `handler.py` behind a valid index, an oversized index. Each is refused with a warning, the set
/// is resolved and built here, the build replaces what was refused, and the function serves the
/// agent's own code.
#[test]
fn a_poisoned_shared_cache_is_refused_and_the_set_built_here() {
    const NAME: &str = "poisoned";
    let aws = LocalAws::start();
    let token = "tok-poison-93c4";
    let checkout_release = |release: &str| {
        let dir = checkout();
        let agent = dir.path().join("agent.py");
        let code = std::fs::read_to_string(&agent).unwrap();
        std::fs::write(
            &agent,
            format!("import six\n{code}\nRELEASE = {release:?}  # six.PY3\n"),
        )
        .unwrap();
        dir
    };
    let writer = |script: &str| aws.boto3(&format!("{CACHE_WRITER}{script}"));
    // A fresh checkout's deploy after the poisoning: refused with `warning`, built here, serving.
    let deploy_refusing = |release: &str, warning: &str| {
        let dir = checkout_release(release);
        let out = run(&mut deploy_command(&aws, dir.path(), NAME, token, &[]));
        let doc = json(&out);
        assert_eq!(out.status.code(), Some(0), "{doc:#}");
        assert_eq!(doc["status"], "deployed", "{doc:#}");
        assert_ne!(doc["build"]["remote_cache"], "hit", "{doc:#}");
        assert!(
            warnings(&doc).iter().any(|w| w.contains(warning)),
            "no warning with `{warning}`: {doc:#}"
        );
        let answer = run(&mut agentdeploy_in(
            &aws,
            dir.path(),
            token,
            &["invoke", NAME, "--input", "hi", "-o", "json"],
        ));
        assert_eq!(answer.status.code(), Some(0), "{}", stdout(&answer));
        assert_eq!(json(&answer)["output"]["echo"], "hi", "{}", stdout(&answer));
        doc
    };

    let first = checkout_release("one");
    let out = run(&mut deploy_command(&aws, first.path(), NAME, token, &[]));
    assert_eq!(
        json(&out)["build"]["remote_cache"],
        "stored",
        "{}",
        stdout(&out)
    );
    let signatures = writer("print(all(old_mac(k) for k in keys('.json') + keys('.txt')))");
    assert_eq!(signatures.trim(), "True", "index and resolution are signed");

    // The index names the attacker's zip (its hash right, its signature copied from the real one).
    writer(
        "evil = zipped({'six.py': 'raise SystemExit(\"attacker code\")'})\n\
         sha = hashlib.sha256(evil).hexdigest()\n\
         put(f'agentdeploy/cache/v2/deps/{sha}.zip', evil)\n\
         key = index_key()\n\
         index = json.loads(s3.get_object(Bucket=BUCKET, Key=key)['Body'].read())\n\
         index['sha256'] = sha\n\
         put(key, json.dumps(index).encode(), old_mac(key))\n",
    );
    deploy_refusing("two", "is not one agentdeploy wrote");
    // The refused index was replaced by the build made here: the next machine hits again.
    let repaired = checkout_release("two-and-a-half");
    let out = run(&mut deploy_command(&aws, repaired.path(), NAME, token, &[]));
    assert_eq!(
        json(&out)["build"]["remote_cache"],
        "hit",
        "{}",
        stdout(&out)
    );

    // A resolution naming a local file, even one signed with the cache key, is not installed.
    writer(
        "key = keys('.txt')[0]\n\
         body = b'six @ file:///tmp/evil-six\\n'\n\
         put(key, body, signed(key, body))\n\
         put(index_key(), b'{}', None)\n",
    );
    deploy_refusing("three", "is not a list of pinned versions");

    // A signed index whose zip would replace the handler: the zip is opened and refused.
    writer(
        "evil = zipped({'handler.py': 'def handler(event, context):\\n    return \"attacker\"\\n', 'six.py': 'PY3 = True\\n'})\n\
         sha = hashlib.sha256(evil).hexdigest()\n\
         put(f'agentdeploy/cache/v2/deps/{sha}.zip', evil)\n\
         key = index_key()\n\
         index = json.loads(s3.get_object(Bucket=BUCKET, Key=key)['Body'].read())\n\
         index['sha256'] = sha\n\
         index['facts']['unzipped_bytes'] = 1\n\
         body = json.dumps(index).encode()\n\
         put(key, body, signed(key, body))\n",
    );
    deploy_refusing("four", "would replace or shadow the agent's own `handler`");

    // An index far bigger than any agentdeploy writes is not read.
    writer(
        "key = index_key()\n\
         body = b' ' * (1 << 20) + b'{}'\n\
         put(key, body, signed(key, body))\n",
    );
    deploy_refusing("five", "more than agentdeploy ever writes");
}

/// reference §7 "unchanged": the same inputs are "unchanged" only while the deployment is what
/// the last deploy left. `live` moved by hand, the Function URL opened to `AuthType NONE` by hand,
/// and a record rewritten in SSM (naming the moved version) are each deployed again, with the
/// reason, until `live` serves the inputs' code behind IAM auth again.
#[test]
fn a_deployment_changed_by_hand_is_deployed_again_not_called_unchanged() {
    const DRIFT: &str = "drift";
    let aws = LocalAws::start();
    let token = "tok-drift-4b7a";
    let a = checkout();
    let deploy_a = |expect: &str| -> Value {
        let out = run(&mut deploy_command(&aws, a.path(), DRIFT, token, &[]));
        let doc = json(&out);
        assert_eq!(out.status.code(), Some(0), "{doc:#}");
        assert_eq!(doc["status"], expect, "{doc:#}");
        doc
    };
    let echo = |dir: &Path| -> Value {
        let answer = run(&mut agentdeploy_in(
            &aws,
            dir,
            token,
            &["invoke", DRIFT, "--input", "hi", "-o", "json"],
        ));
        assert_eq!(answer.status.code(), Some(0), "{}", stdout(&answer));
        json(&answer)["output"]["echo"].clone()
    };
    let live_and_auth = || -> String {
        aws.boto3(
            "l = client('lambda')\n\
             alias = l.get_alias(FunctionName='drift', Name='live')['FunctionVersion']\n\
             auth = l.get_function_url_config(FunctionName='drift', Qualifier='live')['AuthType']\n\
             print(alias, auth)\n",
        )
        .trim()
        .to_string()
    };
    deploy_a("deployed");
    crate::lifecycle_e2e::edit_agent(
        a.path(),
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    let doc = deploy_a("deployed");

    assert_eq!(live_and_auth(), "2 AWS_IAM", "{doc:#}");
    assert_eq!(deploy_a("unchanged")["status"], "unchanged");

    // `live` moved back to version 1 by hand.
    aws.boto3(
        "client('lambda').update_alias(FunctionName='drift', Name='live', FunctionVersion='1')",
    );
    assert_eq!(echo(a.path()), "hi");
    let doc = deploy_a("deployed");
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("live was moved to version 1 outside agentdeploy")),
        "{doc:#}"
    );
    assert_eq!(live_and_auth(), "2 AWS_IAM");
    assert_eq!(echo(a.path()), "v2:hi");
    deploy_a("unchanged");

    // The URL opened to anyone by hand.
    aws.boto3(
        "client('lambda').update_function_url_config(FunctionName='drift', Qualifier='live', AuthType='NONE')",
    );
    let doc = deploy_a("deployed");
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("the endpoint's auth is NONE, not AWS_IAM")),
        "{doc:#}"
    );
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("set back to AWS_IAM")),
        "{doc:#}"
    );
    assert_eq!(live_and_auth(), "2 AWS_IAM");
    assert_eq!(doc["access"]["auth"], "iam", "{doc:#}");

    // A fresh checkout trusts the signed record in SSM: unchanged.
    let b = checkout();
    crate::lifecycle_e2e::edit_agent(
        b.path(),
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    let out = run(&mut deploy_command(&aws, b.path(), DRIFT, token, &[]));
    assert_eq!(json(&out)["status"], "unchanged", "{}", stdout(&out));

    // `live` moved by hand and the record rewritten to match (its signature cannot be): the
    // record is not believed, and the fresh checkout's deploy serves its own code again.
    aws.boto3(
        "l = client('lambda')\n\
         l.update_alias(FunctionName='drift', Name='live', FunctionVersion='1')\n\
         v1 = l.get_function_configuration(FunctionName='drift', Qualifier='1')['CodeSha256']\n\
         ssm = client('ssm')\n\
         name = '/agentdeploy/agentdeploy-drift/record/deployment'\n\
         record = json.loads(ssm.get_parameter(Name=name)['Parameter']['Value'])\n\
         assert record['mac'], record\n\
         record['deployed']['live_version'] = '1'\n\
         record['deployed']['code_sha256'] = v1\n\
         ssm.put_parameter(Name=name, Value=json.dumps(record), Type='String', Overwrite=True)\n",
    );
    let c = checkout();
    crate::lifecycle_e2e::edit_agent(
        c.path(),
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    let out = run(&mut deploy_command(&aws, c.path(), DRIFT, token, &[]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    // This checkout's build (its bytecode) may publish a version of its own: not version 1.
    assert!(!live_and_auth().starts_with("1 "), "{}", live_and_auth());
    assert_eq!(echo(c.path()), "v2:hi");
}
