//! The repository's own pointers: every `dir/file.md` that a doc, script, template or source
//! file names exists from the project's root (readers follow them from a fresh clone).

use std::path::Path;

use crate::common::*;

fn md_paths(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
        .map(|token| token.trim_end_matches('.'))
        .filter(|token| token.ends_with(".md") && token.contains('/'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_markdown_path_named_in_the_repository_exists() {
    let root = repo();
    let mut named = 0;
    let mut missing = Vec::new();
    for top in [
        "README.md",
        "docs",
        ".ci",
        "tests",
        "src",
        "templates",
        "bench",
    ] {
        let files = if root.join(top).is_dir() {
            files_below(&root.join(top))
        } else {
            vec![root.join(top)]
        };
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            // This file's own examples are not pointers.
            if file.ends_with("tests/suite/repo_docs.rs") {
                continue;
            }
            for path in md_paths(&text) {
                named += 1;
                let beside = file.parent().unwrap_or(Path::new(".")).join(&path);
                if !root.join(&path).is_file() && !beside.is_file() {
                    missing.push(format!("{} names {path}", file.display()));
                }
            }
        }
    }
    assert!(named > 3, "only {named} pointers found: the scan is broken");
    assert!(
        missing.is_empty(),
        "pointers to missing files:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scan_finds_a_pointer_like_the_one_that_was_broken() {
    assert_eq!(
        md_paths("What it adds to moto (see shared/TESTING.md):"),
        ["shared/TESTING.md"]
    );
}

/// The option table in `src/options.rs` is the one list of per-agent options; the `lambda`
/// page's options table and its list of config keys must name every one of them.
#[test]
fn the_lambda_page_documents_every_option_as_a_flag_and_a_config_key() {
    let readme =
        std::fs::read_to_string(repo().join("docs/commands/lambda.md")).expect("lambda.md");
    let section = |title: &str| -> String {
        let start = readme
            .find(title)
            .unwrap_or_else(|| panic!("docs/commands/lambda.md has no `{title}` section"));
        let rest = &readme[start + title.len()..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
    };
    let flags = section("## `lambda` options");
    let config = section("## Config file");
    let mut undocumented = Vec::new();
    for option in agentdeploy::options::AGENT_OPTIONS {
        let flag_named = [" ", "`", ",", "|"].iter().any(|end| {
            flags.contains(&format!("`{}{end}", option.flag))
                || flags.contains(&format!("{}{end}", option.flag))
        });
        if !flag_named && option.flag != "--region" && option.flag != "--profile" {
            undocumented.push(format!("flag {}", option.flag));
        }
        if !config.contains(&format!("`{}`", option.key)) {
            undocumented.push(format!("config key `{}`", option.key));
        }
    }
    assert!(
        undocumented.is_empty(),
        "docs/commands/lambda.md does not document: {undocumented:?}"
    );
}

#[test]
fn the_readmes_emulator_command_keeps_serving_when_started_from_a_script() {
    use std::io::{BufRead, BufReader, Read, Write};
    // A free port, as the README's `tests/emulator/start 4566 &` names one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A script's background job: stdin is closed (/dev/null) from the start.
    let mut child = std::process::Command::new("bash")
        .arg(repo().join("tests/emulator/start"))
        .arg(port.to_string())
        .env("AGENTDEPLOY_TOOLS_DIR", tools_dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("LOCAL_AWS_READY "), "{ready:?}");
    // Still serving after it has seen its closed stdin: S3 lists the artifact bucket.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("agentdeploy-artifacts"), "{answer}");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "a signal stops it cleanly");
}

/// docs/reference.md §3 lists exactly the options `agentdeploy lambda --help` shows (the global
/// ones, listed above that block, aside).
#[test]
fn the_references_flag_list_is_the_lambda_commands_help() {
    let reference = std::fs::read_to_string(repo().join("docs/reference.md")).expect("reference");
    let section = reference
        .split("## 3. Commands and options")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("reference §3");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("§3's flag block");
    let mut listed: Vec<&str> = block.split_whitespace().collect();
    listed.sort();
    let help = agentdeploy(&repo())
        .args(["lambda", "--help"])
        .output()
        .expect("help runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let global = [
        "--config",
        "--env",
        "--output",
        "--quiet",
        "--verbose",
        "--color",
        "--region",
        "--profile",
        "--endpoint-url",
        "--help",
        "--version",
    ];
    let mut shown: Vec<&str> = help
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line
                .strip_prefix('-')
                .filter(|l| !l.starts_with('-'))
                .map_or(line, |l| l.split_once(", ").map_or(line, |(_, rest)| rest));
            line.starts_with("--")
                .then(|| line.split([' ', '=', '<', '.']).next().unwrap_or(line))
        })
        .filter(|flag| !global.contains(flag))
        .collect();
    shown.sort();
    shown.dedup();
    assert_eq!(
        listed, shown,
        "docs/reference.md §3 and `agentdeploy lambda --help` differ"
    );
}

/// The fenced blocks of one kind (```yaml, ```json) in a markdown text, in order.
fn fenced<'a>(text: &'a str, kind: &str) -> Vec<&'a str> {
    text.split(&format!("```{kind}\n"))
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .collect()
}

/// docs/ci.md's GitHub Actions workflow is a complete one that works as written: valid YAML, an
/// OIDC role (no keys), secrets only in `env`, every agentdeploy command line accepted by the real
/// CLI parser, a deploy gated by the smoke cases the page shows (which agentdeploy reads).
#[test]
fn the_ci_pages_workflow_parses_and_its_commands_are_agentdeploys() {
    use clap::Parser;
    let page = std::fs::read_to_string(repo().join("docs/ci.md")).expect("docs/ci.md");
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(fenced(&page, "yaml")[0]).expect("the workflow is YAML");
    assert_eq!(
        workflow["permissions"]["id-token"], "write",
        "OIDC needs id-token: write"
    );
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    assert!(!jobs.is_empty());
    let text = serde_yaml::to_string(&workflow).unwrap();
    assert!(
        !text.contains("aws-access-key-id") && !text.contains("aws-secret-access-key"),
        "no stored AWS keys"
    );
    let mut deploy_seen = false;
    for (_, job) in jobs {
        let steps = job["steps"].as_sequence().expect("steps");
        assert!(
            steps.iter().any(|s| s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
                && s["with"]["role-to-assume"].is_string()),
            "the job assumes a role"
        );
        for step in steps {
            assert!(
                step["uses"].is_string() || step["run"].is_string(),
                "each step uses an action or runs a command: {step:?}"
            );
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            assert!(
                !run.contains("secrets."),
                "a secret in a command line ends up in argv: {run}"
            );
            for command in run.split(['\n', ';']).flat_map(|l| l.split("||")) {
                let command = command.trim();
                let Some(rest) = command.strip_prefix("agentdeploy ") else {
                    continue;
                };
                let words: Vec<&str> = std::iter::once("agentdeploy")
                    .chain(rest.split('>').next().unwrap().split_whitespace())
                    .collect();
                if let Err(err) = agentdeploy::cli::Cli::try_parse_from(&words) {
                    panic!("docs/ci.md: `{command}` is not an agentdeploy command: {err}");
                }
                if words.get(1) == Some(&"lambda") {
                    deploy_seen = true;
                    assert!(words.contains(&"--smoke"), "the deploy runs smoke cases");
                    let secret = words[words.iter().position(|w| *w == "--secret").unwrap() + 1];
                    assert!(
                        step["env"][secret]
                            .as_str()
                            .is_some_and(|v| v.contains("secrets.")),
                        "--secret {secret} has its value in the step's env"
                    );
                }
            }
        }
    }
    assert!(deploy_seen, "the workflow deploys");
    // The pull-request workflow: previews deployed with --ttl, destroyed on close and expired.
    let previews: serde_yaml::Value =
        serde_yaml::from_str(fenced(&page, "yaml")[1]).expect("the preview workflow is YAML");
    let runs: Vec<String> = previews["jobs"]["preview"]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .filter_map(|step| step["run"].as_str())
        .filter(|run| run.starts_with("agentdeploy "))
        .map(|run| run.split('>').next().unwrap().replace('"', ""))
        .collect();
    for run in &runs {
        let words: Vec<&str> = run.split_whitespace().collect();
        if let Err(err) = agentdeploy::cli::Cli::try_parse_from(&words) {
            panic!("docs/ci.md: `{run}` is not an agentdeploy command: {err}");
        }
    }
    assert!(runs.iter().any(|r| r.contains(" --ttl ")), "{runs:?}");
    assert!(
        runs.iter().any(|r| r.contains("destroy --expired --yes")),
        "{runs:?}"
    );
    let cases = tempfile::tempdir().unwrap();
    let path = cases.path().join("smoke.json");
    std::fs::write(&path, fenced(&page, "json")[0]).unwrap();
    let loaded = agentdeploy::smoke::load(&path).expect("the page's smoke cases load");
    assert_eq!(loaded.cases.len(), 2);
}

/// The wheel (`maturin build`, as ruff and uv ship) carries the agentdeploy binary under the
/// crate's own name and version: maturin's `bin` bindings, the version from Cargo.toml. Building
/// it compiles the crate again (minutes from scratch), so the build itself is the documented
/// command in docs/ci.md, run by hand; this checks the packaging it reads.
#[test]
fn the_wheel_packages_the_binary_under_the_crates_name_and_version() {
    let pyproject: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join("pyproject.toml")).unwrap()).unwrap();
    assert_eq!(
        pyproject["build-system"]["build-backend"].as_str(),
        Some("maturin")
    );
    assert!(
        pyproject["build-system"]["requires"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("maturin")),
        "{pyproject:#?}"
    );
    assert_eq!(
        pyproject["tool"]["maturin"]["bindings"].as_str(),
        Some("bin")
    );
    let project = &pyproject["project"];
    assert_eq!(project["name"].as_str(), Some(env!("CARGO_PKG_NAME")));
    assert_eq!(
        project["dynamic"].as_array().unwrap()[0].as_str(),
        Some("version"),
        "the version comes from Cargo.toml"
    );
    let readme = project["readme"].as_str().unwrap();
    assert!(repo().join(readme).is_file(), "{readme}");
    let ci = std::fs::read_to_string(repo().join("docs/ci.md")).unwrap();
    assert!(
        ci.contains("maturin build --release"),
        "docs/ci.md says how to build it"
    );
}

/// One page per command under `docs/commands/`, naming every flag its `--help` lists (the
/// commands that take `lambda`'s flags point to its page); the README stays a front door.
#[test]
fn every_command_has_a_page_naming_each_of_its_flags_and_the_readme_stays_short() {
    use clap::{Args, CommandFactory};
    let cli = agentdeploy::cli::Cli::command();
    let lambda_flags: Vec<String> = cli
        .find_subcommand("lambda")
        .unwrap()
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let mut missing = Vec::new();
    for command in cli.get_subcommands() {
        let name = command.get_name();
        if name == "help" {
            continue;
        }
        let path = repo().join("docs/commands").join(format!("{name}.md"));
        let Ok(page) = std::fs::read_to_string(&path) else {
            missing.push(format!("docs/commands/{name}.md"));
            continue;
        };
        let flags: Vec<String> = command
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        let takes_lambdas = name != "lambda" && flags == lambda_flags;
        if takes_lambdas {
            if !page.contains("(lambda.md)") {
                missing.push(format!("{name}: a link to lambda.md for its flags"));
            }
            continue;
        }
        // A command taking lambda's per-agent flags (`dev`) names its own and links the rest.
        let per_agent = agentdeploy::options::AgentFlags::augment_args(clap::Command::new("flags"))
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect::<Vec<_>>();
        let takes_per_agent = name != "lambda"
            && per_agent.iter().all(|flag| flags.contains(flag))
            && page.contains("(lambda.md)");
        for flag in flags {
            if takes_per_agent && per_agent.contains(&flag) {
                continue;
            }
            if flag == "--help" || flag == "--version" {
                continue;
            }
            if !page.contains(&flag) {
                missing.push(format!("{name}: {flag}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing from docs/commands: {missing:?}"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 250,
        "README.md is {} lines",
        readme.lines().count()
    );
}

/// The code map in `docs/architecture.md` names every source file, and every file of the Python
/// runtime that ships: a newcomer finds a file by the map.
#[test]
fn the_code_map_names_every_source_file() {
    let map = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let mut unnamed = Vec::new();
    for root in ["src", "templates/runtime/agentdeploy_runtime"] {
        for file in files_below(&repo().join(root)) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let source = name.ends_with(".rs") || name.ends_with(".py");
            if source && name != "__init__.py" && !map.contains(&name) {
                unnamed.push(file.strip_prefix(repo()).unwrap().display().to_string());
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "docs/architecture.md does not name: {unnamed:?}"
    );
}
