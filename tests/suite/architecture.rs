//! The layout holds what docs/architecture.md says: outside its own room a target is named only
//! by the registry (`src/targets.rs`), the Lambda rooms import one way (analyse ←
//! render ← bundle ← ship), only `ship/` (and the target's front door) talks to AWS, and no two
//! modules import each other, however indirectly.

use crate::common::repo;
use std::collections::{BTreeMap, BTreeSet};

/// Every `.rs` file under src/, by module path (`lambda::bundle::sam`), its code before any
/// `#[cfg(test)]` with line comments removed.
fn modules() -> BTreeMap<String, String> {
    let src = repo().join("src");
    let mut found = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let name = match parts.as_slice() {
                [one] if one == "lib" || one == "main" => "crate".to_string(),
                _ => parts.join("::"),
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: Vec<&str> = code
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect();
            found.insert(name, code.join("\n"));
        }
    }
    found
}

/// Module → the modules its code names (`crate::a::b::c` counts as the longest module it
/// starts with; `crate::a::{b, c}` names each).
fn imports(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let longest = |parts: &[&str]| -> Option<String> {
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|candidate| modules.contains_key(candidate))
    };
    let mut graph = BTreeMap::new();
    for (name, code) in modules {
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path
                .split("::")
                .filter(|p| !p.is_empty() && p.starts_with(|c: char| c.is_ascii_lowercase()))
                .collect();
            let mut targets = vec![parts.clone()];
            if let Some(group) = rest[path.len()..].strip_prefix('{') {
                for item in group.split('}').next().unwrap_or_default().split(',') {
                    let item = item.trim().split("::").next().unwrap_or_default();
                    if item.starts_with(|c: char| c.is_ascii_lowercase()) {
                        let mut with = parts.clone();
                        with.push(item);
                        targets.push(with);
                    }
                }
            }
            for target in targets {
                if let Some(found) = longest(&target).filter(|found| found != name) {
                    uses.insert(found);
                }
            }
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

/// Outside a target's own room, only the registry (`src/targets.rs`) names a target: the
/// orchestration layer, the results and the shared plumbing name no Lambda type (`Lambda…`) and
/// no Lambda file, so a second target arrives as one new room and one registry line.
#[test]
fn outside_its_room_only_the_registry_names_a_target() {
    let target_rooms = ["lambda", "folder"];
    let lambda_type = |word: &str| {
        word.strip_prefix("Lambda")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
    };
    let mut named = Vec::new();
    for (name, code) in modules() {
        let own_room = target_rooms
            .iter()
            .any(|room| name == *room || name.starts_with(&format!("{room}::")));
        if own_room || name == "targets" {
            continue;
        }
        for line in code.lines() {
            let mentions_room = target_rooms
                .iter()
                .any(|room| line.contains(&format!("crate::{room}")));
            let mut words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            if mentions_room || words.any(lambda_type) {
                named.push(format!("{name}: {}", line.trim()));
            }
        }
    }
    assert!(
        named.is_empty(),
        "only src/targets.rs may name a target's code: {named:#?}"
    );
    // The registry does name both: the seam is real, not a test of nothing.
    let registry = &modules()["targets"];
    assert!(registry.contains("crate::lambda::target::LambdaTarget"));
    assert!(registry.contains("crate::folder::"));
}

/// The test-only target lives in one room and reaches nothing of Lambda's.
#[test]
fn the_second_target_needs_nothing_of_lambdas() {
    let modules = modules();
    assert!(modules.contains_key("folder"));
    for (name, code) in modules {
        if name == "folder" || name.starts_with("folder::") {
            assert!(
                !code.contains("crate::lambda"),
                "{name} reaches into lambda/"
            );
        }
    }
}

/// The floors, top down: the orchestration layer, the registry, the targets, and the shared rooms
/// (the Target trait among them). A room imports only rooms on its floor or below.
#[test]
fn no_room_imports_one_above_it() {
    let floor = |name: &str| -> usize {
        let top = name.split("::").next().unwrap_or_default();
        match top {
            "crate" => 4,
            "orchestrate" => 3,
            "targets" => 2,
            "lambda" | "folder" => 1,
            _ => 0,
        }
    };
    let graph = imports(&modules());
    let mut upward = Vec::new();
    for (name, uses) in &graph {
        for used in uses {
            if floor(used) > floor(name) {
                upward.push(format!("{name} → {used}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports of a room above: {upward:#?}");
    // The floors are there to be kept: the registry and a target are imported from above.
    assert!(graph["orchestrate"].contains("targets"));
    assert!(
        graph["targets"]
            .iter()
            .any(|used| used.starts_with("lambda"))
    );
}

#[test]
fn no_two_modules_import_each_other_however_indirectly() {
    let graph = imports(&modules());
    // Depth-first search for a back edge; the path shows the circle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let circle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(
            circle.is_none(),
            "import circle: {}",
            circle.unwrap().join(" → ")
        );
    }
}

#[test]
fn the_lambda_rooms_import_one_way_and_only_ship_calls_aws() {
    let modules = modules();
    let graph = imports(&modules);
    let room = |name: &str| -> Option<usize> {
        ["analyse", "render", "bundle", "ship"]
            .iter()
            .position(|r| name.starts_with(&format!("lambda::{r}")))
    };
    for (name, uses) in &graph {
        if !name.starts_with("lambda") {
            continue;
        }
        if let Some(own) = room(name) {
            for used in uses {
                if let Some(other) = room(used) {
                    assert!(other <= own, "{name} imports {used}, a later room");
                }
            }
        }
        let calls_aws = [
            "aws::clients",
            "aws_sdk_cloudformation",
            "aws_sdk_cloudwatchlogs",
            "aws_sdk_lambda",
            "aws_sdk_s3",
            "aws_sdk_ssm",
            "aws_sdk_sts",
        ]
        .iter()
        .any(|client| modules[name].contains(client));
        assert!(
            !calls_aws || name.starts_with("lambda::ship"),
            "{name} talks to AWS: only ship/ does"
        );
    }
    assert!(repo().join("src/lambda/ship/mod.rs").is_file());
}

/// A refused call's hint is made in one place (`src/hints.rs`): no other file spells out what
/// the deploying identity needs.
#[test]
fn permission_hints_are_made_in_one_place() {
    let spelt: Vec<String> = modules()
        .into_iter()
        .filter(|(name, code)| {
            name != "hints" && (code.contains("role needs ") || code.contains("identity needs "))
        })
        .map(|(name, _)| name)
        .collect();
    assert!(spelt.is_empty(), "permission hints spelt out in {spelt:?}");
}
