//! The handler's runtime (`templates/runtime/agentdeploy_runtime/`) is a real Python package with
//! its own unit tests: they run here under the runtime's Python 3.13 with real strands-agents.

use std::process::Command;

use crate::common::*;

#[test]
fn the_runtime_packages_own_tests_pass_under_python_3_13() {
    let path = std::env::join_paths([
        strands_site(),
        repo().join("templates/runtime"),
        repo().join("fixtures/conversations"),
    ])
    .unwrap();
    let out = Command::new(python313())
        .args(["-m", "unittest", "-v"])
        .arg(repo().join("tests/python/test_runtime.py"))
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(repo())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    // Every test ran (unittest says "OK" for zero tests too).
    assert!(report.contains("Ran 8 tests"), "{report}");
}

#[test]
fn the_streamed_path_serves_every_kind_under_python_3_13() {
    let path = std::env::join_paths([
        strands_site(),
        repo().join("templates/runtime"),
        repo().join("fixtures/conversations"),
        repo().join("fixtures/streaming"),
    ])
    .unwrap();
    let out = Command::new(python313())
        .args(["-m", "unittest", "-v"])
        .arg(repo().join("tests/python/test_streaming.py"))
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("AGENTDEPLOY_TEST_PYTHON", python313())
        .current_dir(repo())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("Ran 6 tests"), "{report}");
}
