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
