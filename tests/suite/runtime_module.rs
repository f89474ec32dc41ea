//! The handler's runtime (`templates/runtime/agentdeploy_runtime/`) is a real Python package with
//! its own unit tests: they run here under the runtime's Python 3.13 with real strands-agents
//! (and, for the streamed path, real bedrock-agentcore and FastAPI).

use std::process::Command;

use crate::common::*;

/// Runs `tests/python/<file>` with unittest under 3.13; its report, once it passed with `count`
/// tests (unittest says "OK" for zero tests too).
fn python_tests_pass(file: &str, fixture_dirs: &[&str], count: usize) {
    let mut paths = vec![strands_site(), repo().join("templates/runtime")];
    paths.extend(fixture_dirs.iter().map(|dir| repo().join(dir)));
    let out = Command::new(python313())
        .args(["-m", "unittest", "-v"])
        .arg(repo().join("tests/python").join(file))
        .env("PYTHONPATH", std::env::join_paths(paths).unwrap())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("AGENTDEPLOY_TEST_PYTHON", python313())
        .current_dir(repo())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(&format!("Ran {count} tests")), "{report}");
}

#[test]
fn the_runtime_packages_own_tests_pass_under_python_3_13() {
    python_tests_pass("test_runtime.py", &["fixtures/conversations"], 23);
}

#[test]
fn the_streamed_path_serves_every_kind_under_python_3_13() {
    python_tests_pass(
        "test_streaming.py",
        &["fixtures/conversations", "fixtures/streaming"],
        10,
    );
}

#[test]
fn every_request_writes_its_metrics_record_under_python_3_13() {
    python_tests_pass(
        "test_metrics.py",
        &[
            "fixtures/conversations",
            "fixtures/streaming",
            // test_streaming's server harness
            "tests/python",
        ],
        11,
    );
}
