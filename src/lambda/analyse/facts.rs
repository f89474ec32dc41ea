//! Facts from the agent's code for requirements and IAM: its imports, the Bedrock models it
//! names, AgentCore code interpreter use, boto3 calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, Stmt};
use ruff_text_size::Ranged;

use crate::lambda::analyse::strands::StrandsNames;
use crate::lambda::analyse::syntax::{line_col, module_assignments};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Import {
    /// Full dotted module, e.g. `bedrock_agentcore.tools.code_interpreter_client`.
    pub module: String,
    /// Names imported from it (`from m import a, b`), empty for `import m`.
    pub names: Vec<String>,
    pub line: usize,
    /// The file that holds the line, relative to the entry file's folder.
    #[serde(skip)]
    pub file: PathBuf,
}

impl Import {
    pub fn top_level(&self) -> &str {
        self.module.split('.').next().unwrap_or(&self.module)
    }
}

/// A model the agent talks to through Bedrock, with the line that chose it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BedrockModelUse {
    /// `None` when the id is not a literal the analysis can read.
    pub model_id: Option<String>,
    /// True when the agent relies on Strands' default model (a bare `Agent()` or `BedrockModel()`).
    pub is_default: bool,
    pub line: usize,
    /// The file that holds the line, relative to the entry file's folder.
    #[serde(skip)]
    pub file: PathBuf,
}

/// A line of one of the agent's files (relative to the entry file's folder).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
}

pub(crate) struct Facts {
    pub(crate) imports: Vec<Import>,
    pub(crate) bedrock_models: Vec<BedrockModelUse>,
    pub(crate) agentcore: Vec<Place>,
    pub(crate) aws_sdk: Vec<Place>,
    /// `tool_context.interrupt(...)` / `event.interrupt(...)`: a tool or hook that stops the agent
    /// to wait for a person.
    pub(crate) interrupts: Vec<Place>,
    /// Dotted module paths the file may load (`import a.b`: `a.b`; `from a import b`: `a` and
    /// `a.b`; `from .h import x` inside package `p`: `p.h` and `p.h.x`), to follow into the
    /// agent's own files.
    pub(crate) module_paths: Vec<String>,
}

/// The facts of `module`, the file `file` (`relative`: its path from the entry file's folder).
pub(crate) fn collect_facts(
    module: &ModModule,
    source: &str,
    relative: &Path,
    file: &Path,
) -> Facts {
    let constants = module_string_constants(module);
    let strands = StrandsNames::of(module, file);
    let mut collector = Collector {
        source,
        relative,
        strands: &strands,
        constants: &constants,
        imports: Vec::new(),
        bedrock_models: Vec::new(),
        agentcore: Vec::new(),
        aws_sdk: Vec::new(),
        interrupts: Vec::new(),
        module_paths: Vec::new(),
    };
    collector.visit_body(&module.body);
    Facts {
        imports: collector.imports,
        bedrock_models: collector.bedrock_models,
        agentcore: collector.agentcore,
        aws_sdk: collector.aws_sdk,
        interrupts: collector.interrupts,
        module_paths: collector.module_paths,
    }
}

/// `NAME = "literal"` at module level, so `BedrockModel(model_id=MODEL_ID)` can be resolved.
pub(crate) fn module_string_constants(module: &ModModule) -> BTreeMap<String, ModuleValue> {
    let mut constants = BTreeMap::new();
    for (_, name, value) in module_assignments(module) {
        match value {
            Expr::StringLiteral(s) => {
                constants.insert(
                    name.to_string(),
                    ModuleValue::Literal(s.value.to_str().to_string()),
                );
            }
            value if reads_environment(value) => {
                constants.insert(name.to_string(), ModuleValue::FromEnvironment);
            }
            // Rebinding to something else makes the name non-constant.
            _ => {
                constants.remove(name);
            }
        }
    }
    constants
}

/// What a module-level name holds, where the analysis can tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ModuleValue {
    Literal(String),
    /// `os.environ[...]`, `os.getenv(...)`, `os.environ.get(...)` (possibly `or` a default).
    FromEnvironment,
}

/// Whether the expression reads an environment variable (a string known only at run time).
pub(crate) fn reads_environment(expr: &Expr) -> bool {
    let is_environ = |expr: &Expr| match expr {
        Expr::Attribute(attr) => attr.attr.as_str() == "environ",
        Expr::Name(name) => name.id.as_str() == "environ",
        _ => false,
    };
    match expr {
        Expr::Subscript(subscript) => is_environ(&subscript.value),
        Expr::Call(call) => match &*call.func {
            Expr::Attribute(attr) => {
                attr.attr.as_str() == "getenv"
                    || (attr.attr.as_str() == "get" && is_environ(&attr.value))
            }
            Expr::Name(name) => name.id.as_str() == "getenv",
            _ => false,
        },
        Expr::BoolOp(op) => op.values.iter().any(reads_environment),
        _ => false,
    }
}

pub(crate) struct Collector<'s> {
    source: &'s str,
    relative: &'s Path,
    strands: &'s StrandsNames,
    constants: &'s BTreeMap<String, ModuleValue>,
    imports: Vec<Import>,
    bedrock_models: Vec<BedrockModelUse>,
    agentcore: Vec<Place>,
    aws_sdk: Vec<Place>,
    interrupts: Vec<Place>,
    module_paths: Vec<String>,
}

impl Collector<'_> {
    fn line(&self, offset: usize) -> usize {
        line_col(self.source, offset).0
    }

    /// The dotted path `from <dots><module> import ...` names, seen from this file's package
    /// (`None`: above the agent's folder).
    fn absolute(&self, level: u32, module: Option<&str>) -> Option<String> {
        let mut parts: Vec<String> = if level == 0 {
            Vec::new()
        } else {
            // The file's package: its folder's path below the entry's folder.
            let package: Vec<String> = self
                .relative
                .parent()
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let up = usize::try_from(level - 1).ok()?;
            package[..package.len().checked_sub(up)?].to_vec()
        };
        parts.extend(module.into_iter().map(str::to_string));
        (!parts.is_empty()).then(|| parts.join("."))
    }

    fn place(&self, line: usize) -> Place {
        Place {
            file: self.relative.to_path_buf(),
            line,
        }
    }

    fn literal(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
            Expr::Name(name) => match self.constants.get(name.id.as_str()) {
                Some(ModuleValue::Literal(value)) => Some(value.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A string read from the environment at run time, directly or through a module-level name.
    fn is_read_from_environment(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Name(name) => {
                self.constants.get(name.id.as_str()) == Some(&ModuleValue::FromEnvironment)
            }
            other => reads_environment(other),
        }
    }

    fn record_import(&mut self, module: String, names: Vec<String>, line: usize) {
        let top = module.split('.').next().unwrap_or_default().to_string();
        if module.starts_with("bedrock_agentcore.tools.code_interpreter_client")
            || (module == "bedrock_agentcore.tools"
                && names
                    .iter()
                    .any(|n| n == "code_interpreter_client" || n == "CodeInterpreter"))
        {
            self.agentcore.push(self.place(line));
        }
        if top == "boto3"
            || (module.starts_with("strands_tools") && names.iter().any(|n| n == "use_aws"))
            || module == "strands_tools.use_aws"
        {
            self.aws_sdk.push(self.place(line));
        }
        self.imports.push(Import {
            module,
            names,
            line,
            file: self.relative.to_path_buf(),
        });
    }

    fn call(&mut self, call: &ruff_python_ast::ExprCall) {
        if let Expr::Attribute(attr) = &*call.func
            && attr.attr.as_str() == "interrupt"
        {
            let line = self.line(call.start().to_usize());
            self.interrupts.push(self.place(line));
        }
        let callee = match &*call.func {
            Expr::Name(name) => name.id.as_str(),
            Expr::Attribute(attr) => attr.attr.as_str(),
            _ => return,
        };
        let line = self.line(call.start().to_usize());
        let keyword = |name: &str| {
            call.arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
                .map(|k| &k.value)
        };
        match callee {
            "BedrockModel" => {
                let id_expr = keyword("model_id");
                self.bedrock_models.push(match id_expr {
                    None => BedrockModelUse {
                        model_id: None,
                        is_default: true,
                        line,
                        file: self.relative.to_path_buf(),
                    },
                    Some(expr) => BedrockModelUse {
                        model_id: self.literal(expr),
                        is_default: false,
                        line,
                        file: self.relative.to_path_buf(),
                    },
                });
            }
            // Another framework's `Agent` (Google's ADK, say) is not Strands' and gets no grant.
            "Agent" if self.strands.builds_agent(&call.func) => {
                // Agent(model=...) takes a model id string (Bedrock) or a model object; the first
                // positional parameter is `model`.
                let model = keyword("model").or_else(|| call.arguments.args.first());
                match model {
                    None => self.bedrock_models.push(BedrockModelUse {
                        model_id: None,
                        is_default: true,
                        line,
                        file: self.relative.to_path_buf(),
                    }),
                    Some(Expr::NoneLiteral(_)) => self.bedrock_models.push(BedrockModelUse {
                        model_id: None,
                        is_default: true,
                        line,
                        file: self.relative.to_path_buf(),
                    }),
                    Some(expr) => {
                        if let Some(id) = self.literal(expr) {
                            self.bedrock_models.push(BedrockModelUse {
                                model_id: Some(id),
                                is_default: false,
                                line,
                                file: self.relative.to_path_buf(),
                            });
                        } else if self.is_read_from_environment(expr) {
                            // A Bedrock model id chosen at deploy time through the environment.
                            self.bedrock_models.push(BedrockModelUse {
                                model_id: None,
                                is_default: false,
                                line,
                                file: self.relative.to_path_buf(),
                            });
                        }
                        // Any other expression is a model object, counted where it is built.
                    }
                }
            }
            _ => {}
        }
    }
}

impl<'a> Visitor<'a> for Collector<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => {
                let line = self.line(import.start().to_usize());
                for alias in &import.names {
                    self.module_paths.push(alias.name.to_string());
                    self.record_import(alias.name.to_string(), Vec::new(), line);
                }
            }
            Stmt::ImportFrom(from) => {
                let module = from.module.as_ref().map(|m| m.to_string());
                let names: Vec<String> = from.names.iter().map(|a| a.name.to_string()).collect();
                if let Some(base) = self.absolute(from.level, module.as_deref()) {
                    self.module_paths.push(base.clone());
                    for name in names.iter().filter(|n| *n != "*") {
                        self.module_paths.push(format!("{base}.{name}"));
                    }
                }
                if let (0, Some(module)) = (from.level, module) {
                    let line = self.line(from.start().to_usize());
                    self.record_import(module, names, line);
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            self.call(call);
        }
        visitor::walk_expr(self, expr);
    }
}
