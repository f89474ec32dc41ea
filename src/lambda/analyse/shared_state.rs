//! State that conversation isolation does not cover: a module-level list, dict or set that the
//! agent's functions change while a request runs is shared by every caller of a warm instance.
//! Isolation restores Strands agents only (docs/handler.md, "Each caller's conversation is theirs alone");
//! this finds the plain containers so the plan can say so.

use std::collections::{BTreeMap, BTreeSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ExprContext, ModModule, Stmt};
use ruff_text_size::Ranged;

use crate::lambda::analyse::syntax::{line_col, module_assignments};

/// Methods that change a list, dict, set or deque in place.
const MUTATING_METHODS: [&str; 14] = [
    "append",
    "appendleft",
    "extend",
    "insert",
    "add",
    "update",
    "setdefault",
    "pop",
    "popitem",
    "remove",
    "discard",
    "clear",
    "sort",
    "__setitem__",
];

/// Constructors of mutable containers, called bare or through their module.
const CONTAINER_CALLS: [&str; 6] = ["list", "dict", "set", "deque", "defaultdict", "OrderedDict"];

/// One warning per module-level container that a function changes (`file:line` of the
/// container), and per module-level MCP client.
pub fn warnings(module: &ModModule, source: &str, display: &str) -> Vec<String> {
    let mut found = mcp_clients(module, source, display);
    found.extend(changed_containers(module, source, display));
    found
}

/// A module-level `MCPClient(...)`: one connection (one server session) kept by the warm process
/// and used by every caller's request. Strands advises a connection per invocation on Lambda.
pub(crate) fn mcp_clients(module: &ModModule, source: &str, display: &str) -> Vec<String> {
    module_assignments(module)
        .into_iter()
        .filter(|(_, _, value)| {
            matches!(value, Expr::Call(call) if match &*call.func {
                Expr::Name(name) => name.id.as_str() == "MCPClient",
                Expr::Attribute(attr) => attr.attr.as_str() == "MCPClient",
                _ => false,
            })
        })
        .map(|(stmt, name, _)| {
            format!(
                "{display}:{}: `{name}` is a module-level MCPClient: a warm process keeps its one connection and every caller's request uses it (what the server holds for one caller reaches the next); open it per request (`with MCPClient(...) as client:` inside the function), as Strands advises on Lambda",
                line_col(source, stmt.start().to_usize()).0
            )
        })
        .collect()
}

fn changed_containers(module: &ModModule, source: &str, display: &str) -> Vec<String> {
    let containers = module_containers(module, source);
    if containers.is_empty() {
        return Vec::new();
    }
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for stmt in &module.body {
        let Stmt::FunctionDef(def) = stmt else {
            continue;
        };
        let mut finder = Writes {
            containers: &containers,
            found: BTreeSet::new(),
            declared_global: BTreeSet::new(),
            assigned: BTreeSet::new(),
        };
        for inner in &def.body {
            finder.visit_stmt(inner);
        }
        for name in finder.found {
            // A function that binds the name itself (without `global`) writes its own local.
            if finder.assigned.contains(&name) && !finder.declared_global.contains(&name) {
                continue;
            }
            written
                .entry(name)
                .or_default()
                .insert(def.name.to_string());
        }
    }
    written
        .into_iter()
        .map(|(name, functions)| {
            let functions: Vec<String> = functions.iter().map(|f| format!("`{f}`")).collect();
            format!(
                "{display}:{}: `{name}` is a module-level container that {} changes: a warm instance shares it between callers (conversation isolation covers Strands agents only); keep per-request data in the function, or in the agent's state",
                containers[&name],
                functions.join(", ")
            )
        })
        .collect()
}

/// Module-level `NAME = []`, `{}`, `set()`, `dict()`, `deque()`, ... with their lines.
fn module_containers(module: &ModModule, source: &str) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for (stmt, name, value) in module_assignments(module) {
        if is_mutable_container(value) {
            found.insert(
                name.to_string(),
                line_col(source, stmt.start().to_usize()).0,
            );
        } else {
            found.remove(name);
        }
    }
    found
}

fn is_mutable_container(value: &Expr) -> bool {
    match value {
        Expr::List(_) | Expr::Dict(_) | Expr::Set(_) => true,
        Expr::ListComp(_) | Expr::DictComp(_) | Expr::SetComp(_) => true,
        Expr::Call(call) => match &*call.func {
            Expr::Name(name) => CONTAINER_CALLS.contains(&name.id.as_str()),
            Expr::Attribute(attr) => CONTAINER_CALLS.contains(&attr.attr.as_str()),
            _ => false,
        },
        _ => false,
    }
}

struct Writes<'c> {
    containers: &'c BTreeMap<String, usize>,
    /// Module-level containers the function changes (only names in `containers`).
    found: BTreeSet<String>,
    declared_global: BTreeSet<String>,
    assigned: BTreeSet<String>,
}

impl Writes<'_> {
    fn note(&mut self, target: &Expr) {
        if let Expr::Name(name) = target
            && self.containers.contains_key(name.id.as_str())
        {
            self.found.insert(name.id.to_string());
        }
    }
}

impl<'a> Visitor<'a> for Writes<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Global(global) => {
                self.declared_global
                    .extend(global.names.iter().map(|n| n.to_string()));
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    if let Expr::Subscript(subscript) = target {
                        self.note(&subscript.value);
                    }
                }
            }
            Stmt::AugAssign(assign) => match &*assign.target {
                Expr::Subscript(subscript) => self.note(&subscript.value),
                Expr::Name(_) => self.note(&assign.target),
                _ => {}
            },
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Subscript(subscript) if subscript.ctx == ExprContext::Store => {
                self.note(&subscript.value);
            }
            Expr::Name(name) if name.ctx == ExprContext::Store => {
                self.assigned.insert(name.id.to_string());
            }
            Expr::Call(call) => {
                if let Expr::Attribute(attr) = &*call.func
                    && MUTATING_METHODS.contains(&attr.attr.as_str())
                {
                    self.note(&attr.value);
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings_for(source: &str) -> Vec<String> {
        let parsed = ruff_python_parser::parse_module(source).unwrap();
        warnings(parsed.syntax(), source, "agent.py")
    }

    #[test]
    fn a_module_level_list_the_entry_appends_to_is_named_with_its_line() {
        let found = warnings_for(
            "from strands import Agent\n\nHISTORY = []\nSEEN: dict = {}\n\ndef main(user_input_arg=None, input_data_arg=None):\n    HISTORY.append(user_input_arg)\n    SEEN[user_input_arg] = 1\n    return len(HISTORY)\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("agent.py:3: `HISTORY`"), "{found:?}");
        assert!(found[0].contains("`main` changes"), "{found:?}");
        assert!(found[1].starts_with("agent.py:4: `SEEN`"), "{found:?}");
    }

    #[test]
    fn a_module_level_mcp_client_is_named_with_its_line() {
        let found = warnings_for(
            "from mcp import stdio_client, StdioServerParameters\nfrom strands.tools.mcp import MCPClient\n\ndocs = MCPClient(lambda: stdio_client(StdioServerParameters(command='uvx', args=['x'])))\n\ndef main(user_input_arg=None):\n    with MCPClient(lambda: None) as fresh:\n        return fresh\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("agent.py:4: `docs` is a module-level MCPClient"),
            "{found:?}"
        );
    }

    #[test]
    fn a_helper_modules_mcp_client_is_named_in_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("clients.py"),
            "from strands.tools.mcp import MCPClient\n\ndocs = MCPClient(lambda: None)\n",
        )
        .unwrap();
        let agent = dir.path().join("agent.py");
        let source = "from clients import docs\ndef main(user_input_arg=None):\n    return docs\n";
        std::fs::write(&agent, source).unwrap();
        let a = crate::lambda::analyse::analyse_file(&agent);
        assert!(
            a.warnings
                .iter()
                .any(|w| w.ends_with("as Strands advises on Lambda")
                    && w.contains("clients.py:3: `docs`")),
            "{:?}",
            a.warnings
        );
    }

    #[test]
    fn containers_only_read_filled_at_import_or_shadowed_are_not_named() {
        let found = warnings_for(
            "NAMES = ['a', 'b']\nNAMES.append('c')\nCACHE = {}\nTOTAL = 0\n\ndef main(user_input_arg=None, input_data_arg=None):\n    CACHE = {}\n    CACHE['x'] = 1\n    return NAMES[0] + str(len(CACHE))\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
