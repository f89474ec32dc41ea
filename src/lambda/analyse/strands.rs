//! Which calls build a Strands `Agent`. Other frameworks call their agents `Agent` too (Google's
//! ADK: `from google.adk.agents import Agent`, with a Gemini model id): a call is Strands' only
//! when the name it calls was imported from `strands` — directly, through `import strands`, or
//! through one of the agent's own modules that imports it from there (followed a few hops).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, Stmt};

use crate::lambda::analyse::syntax::module_file;

/// How many of the agent's own modules an `Agent` re-export is followed through.
const REEXPORT_HOPS: usize = 4;

/// The names a module binds to Strands' `Agent` class or to the `strands` package.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrandsNames {
    /// `from strands import Agent [as A]` (or from `strands.agent`, `strands.agent.agent`).
    classes: BTreeSet<String>,
    /// `import strands [as s]`: `s.Agent(...)`, `strands.agent.Agent(...)`.
    packages: BTreeSet<String>,
    /// `from strands import *`.
    star: bool,
}

impl StrandsNames {
    /// What `module` (the file `file`) binds, anywhere in it (imports inside functions and `try`
    /// blocks count: the call may be there too).
    pub(crate) fn of(module: &ModModule, file: &Path) -> StrandsNames {
        Self::within(module, file, REEXPORT_HOPS)
    }

    fn within(module: &ModModule, file: &Path, hops: usize) -> StrandsNames {
        let mut finder = Finder {
            file: file.to_path_buf(),
            hops,
            names: StrandsNames::default(),
        };
        finder.visit_body(&module.body);
        finder.names
    }

    /// Whether calling `func` builds a Strands Agent.
    pub(crate) fn builds_agent(&self, func: &Expr) -> bool {
        match func {
            Expr::Name(name) => {
                let name = name.id.as_str();
                self.classes.contains(name) || (self.star && name == "Agent")
            }
            Expr::Attribute(attr) if attr.attr.as_str() == "Agent" => {
                let mut base = &*attr.value;
                while let Expr::Attribute(inner) = base {
                    base = &inner.value;
                }
                matches!(base, Expr::Name(package) if self.packages.contains(package.id.as_str()))
            }
            _ => false,
        }
    }

    /// Whether the module binds `Agent` (by that name) to Strands' class.
    fn exports_agent(&self) -> bool {
        self.classes.contains("Agent") || self.star
    }
}

fn is_strands(module: &str) -> bool {
    module == "strands" || module.starts_with("strands.")
}

struct Finder {
    /// The file whose imports are read.
    file: PathBuf,
    hops: usize,
    names: StrandsNames,
}

impl Finder {
    /// `from MODULE import Agent` where MODULE is one of the agent's own files: whether that file
    /// binds `Agent` to Strands' class.
    fn reexports_agent(&self, module: &str, level: u32) -> bool {
        if self.hops == 0 {
            return false;
        }
        let Some(file) = module_file(&self.file, level, module) else {
            return false;
        };
        let Ok(source) = std::fs::read_to_string(&file) else {
            return false;
        };
        let Ok(parsed) = ruff_python_parser::parse_module(&source) else {
            return false;
        };
        StrandsNames::within(&parsed.into_syntax(), &file, self.hops - 1).exports_agent()
    }
}

impl<'a> Visitor<'a> for Finder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    if is_strands(name) {
                        // `import strands.agent` binds `strands`; `import strands as s` binds `s`.
                        let bound = match &alias.asname {
                            Some(asname) => asname.to_string(),
                            None => name.split('.').next().unwrap_or(name).to_string(),
                        };
                        self.names.packages.insert(bound);
                    }
                }
            }
            Stmt::ImportFrom(from) => {
                let module = from.module.as_ref().map(|m| m.as_str()).unwrap_or_default();
                let from_strands = from.level == 0 && is_strands(module);
                for alias in &from.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                    match alias.name.as_str() {
                        "*" if from_strands => self.names.star = true,
                        "Agent" if from_strands || self.reexports_agent(module, from.level) => {
                            self.names.classes.insert(bound);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path, source: &str) -> StrandsNames {
        let parsed = ruff_python_parser::parse_module(source).unwrap();
        StrandsNames::of(&parsed.into_syntax(), &dir.join("agent.py"))
    }

    fn call(source: &str) -> Expr {
        let parsed = ruff_python_parser::parse_expression(source).unwrap();
        match parsed.into_expr() {
            Expr::Call(call) => *call.func,
            other => panic!("not a call: {other:?}"),
        }
    }

    #[test]
    fn only_calls_of_strands_agent_build_one() {
        let dir = tempfile::tempdir().unwrap();
        let strands = names(
            dir.path(),
            "from strands import Agent\nimport strands as s\nimport strands.agent\n",
        );
        for built in ["Agent()", "s.Agent()", "strands.agent.Agent()"] {
            assert!(strands.builds_agent(&call(built)), "{built}");
        }
        let adk = names(dir.path(), "from google.adk.agents import Agent\n");
        assert!(!adk.builds_agent(&call("Agent(model='gemini-2.0-flash')")));
        let renamed = names(dir.path(), "from strands import Agent as StrandsAgent\n");
        assert!(renamed.builds_agent(&call("StrandsAgent()")));
        assert!(!renamed.builds_agent(&call("Agent()")));
        let star = names(dir.path(), "from strands import *\n");
        assert!(star.builds_agent(&call("Agent()")));
        let none = names(dir.path(), "Agent = object\n");
        assert!(!none.builds_agent(&call("Agent()")));
    }

    #[test]
    fn an_agent_reexported_by_the_agents_own_module_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/__init__.py"), "").unwrap();
        std::fs::write(
            dir.path().join("lib/base.py"),
            "from strands import Agent\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("other.py"),
            "from google.adk.agents import Agent\n",
        )
        .unwrap();
        assert!(names(dir.path(), "from lib.base import Agent\n").builds_agent(&call("Agent()")));
        assert!(!names(dir.path(), "from other import Agent\n").builds_agent(&call("Agent()")));
        // Following a cycle ends.
        std::fs::write(dir.path().join("a.py"), "from b import Agent\n").unwrap();
        std::fs::write(dir.path().join("b.py"), "from a import Agent\n").unwrap();
        assert!(!names(dir.path(), "from a import Agent\n").builds_agent(&call("Agent()")));
    }
}
