//! Agent analysis (SPEC §5): the agent file is parsed with a real Python parser (ruff's, which
//! reads 3.13 syntax) before anything else. It yields `main`'s shape, the imports, and the
//! facts the IAM inference needs (Bedrock model ids, AgentCore code interpreter, boto3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions};
use ruff_text_size::Ranged;

use crate::error::{Error, Result};
use crate::settings::Runtime;

/// The largest agent source we accept; generated agents are a few hundred lines.
pub const MAX_AGENT_BYTES: u64 = 1024 * 1024;

/// Entry files looked for, in order, when `--agent` names a directory.
pub const ENTRY_FILES: [&str; 3] = ["agent.py", "main.py", "app.py"];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MainSignature {
    pub is_async: bool,
    /// Positional parameters (posonly + regular), in order.
    pub positional: Vec<String>,
    pub has_varargs: bool,
    pub line: usize,
}

impl MainSignature {
    /// How many of (user_input, input_data) the handler passes positionally.
    pub fn arity(&self) -> usize {
        if self.has_varargs {
            2
        } else {
            self.positional.len().min(2)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Import {
    /// Full dotted module, e.g. `bedrock_agentcore.tools.code_interpreter_client`.
    pub module: String,
    /// Names imported from it (`from m import a, b`), empty for `import m`.
    pub names: Vec<String>,
    pub line: usize,
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
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentAnalysis {
    /// The entry file (the file whose code goes into the handler).
    pub path: PathBuf,
    /// The path as shown in messages and template comments (relative to the project).
    pub display: String,
    /// When `--agent` is a directory: that directory (its other files ship beside the handler).
    pub package_dir: Option<PathBuf>,
    #[serde(skip)]
    pub source: String,
    pub main: MainSignature,
    pub imports: Vec<Import>,
    pub bedrock_models: Vec<BedrockModelUse>,
    /// Lines that use AgentCore's code interpreter client.
    pub agentcore_code_interpreter: Vec<usize>,
    /// Lines that use boto3 / `use_aws`: the role needs a `--policy` we cannot infer.
    pub aws_sdk_use: Vec<usize>,
}

impl AgentAnalysis {
    pub fn display_path(&self) -> String {
        self.display.clone()
    }

    /// Shows the path relative to `base` where it lies below it.
    pub fn set_display_base(&mut self, base: &Path) {
        self.display = self
            .path
            .strip_prefix(base)
            .unwrap_or(&self.path)
            .display()
            .to_string();
    }
}

/// Finds the entry file for `--agent` (a file, or a directory with an entry file).
pub fn locate(agent: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let meta = std::fs::metadata(agent).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            _ => format!("cannot read: {e}"),
        };
        Error::Agent {
            location: agent.display().to_string(),
            message,
            hint: Some("pass --agent with the path of the agent's .py file".into()),
        }
    })?;
    if meta.is_dir() {
        for name in ENTRY_FILES {
            let candidate = agent.join(name);
            if candidate.is_file() {
                return Ok((candidate, Some(agent.to_path_buf())));
            }
        }
        return Err(Error::Agent {
            location: agent.display().to_string(),
            message: format!("directory has no entry file ({})", ENTRY_FILES.join(", ")),
            hint: Some(
                "pass --agent with the .py file that defines main(), or rename it to agent.py"
                    .into(),
            ),
        });
    }
    if !meta.is_file() {
        return Err(Error::agent(
            agent.display().to_string(),
            "not a regular file",
        ));
    }
    if agent.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(Error::Agent {
            location: agent.display().to_string(),
            message: "not a .py file".into(),
            hint: Some("pass --agent with the agent's Python file".into()),
        });
    }
    Ok((agent.to_path_buf(), None))
}

/// Reads, parses and analyses the agent.
pub fn analyse(agent: &Path, runtime: Runtime) -> Result<AgentAnalysis> {
    let (path, package_dir) = locate(agent)?;
    let location = path.display().to_string();
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if len > MAX_AGENT_BYTES {
        return Err(Error::Agent {
            location,
            message: format!("{len} bytes is larger than the {MAX_AGENT_BYTES}-byte limit for an agent file"),
            hint: Some("move data out of the agent file into files beside it, and use a directory as --agent".into()),
        });
    }
    let bytes =
        std::fs::read(&path).map_err(|e| Error::agent(&location, format!("cannot read: {e}")))?;
    if bytes.contains(&0) {
        return Err(Error::Agent {
            location,
            message: "binary file (contains NUL bytes), not Python source".into(),
            hint: Some("pass --agent with the agent's .py source file".into()),
        });
    }
    let source = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        let (line, col) = line_col(&text, offset);
        Error::Agent {
            location: format!("{location}:{line}:{col}"),
            message: "not valid UTF-8".into(),
            hint: Some(
                "save the agent file as UTF-8 (Lambda's Python reads source as UTF-8)".into(),
            ),
        }
    })?;
    if source.trim().is_empty() {
        return Err(Error::Agent {
            location,
            message: "the agent file is empty".into(),
            hint: Some(
                "the agent needs a `def main(user_input_arg=None, input_data_arg=None)`".into(),
            ),
        });
    }
    analyse_source(&path, package_dir, source, runtime)
}

pub fn analyse_source(
    path: &Path,
    package_dir: Option<PathBuf>,
    source: String,
    runtime: Runtime,
) -> Result<AgentAnalysis> {
    let display = path.display().to_string();
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion {
        major: 3,
        minor: runtime.minor,
    });
    let parsed = ruff_python_parser::parse(&source, options).map_err(|err| {
        let (line, col) = line_col(&source, err.location.start().to_usize());
        Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message: format!("syntax error: {}", err.error),
            hint: Some(
                "fix the syntax error; the file must run under the function's Python".into(),
            ),
        }
    })?;
    if let Some(err) = parsed.unsupported_syntax_errors().first() {
        let (line, col) = line_col(&source, err.range.start().to_usize());
        return Err(Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message: format!("{err}"),
            hint: Some("use a newer --runtime, or rewrite this for the selected Python".into()),
        });
    }
    let module: ModModule = parsed
        .try_into_module()
        .map(|p| p.into_syntax())
        .ok_or_else(|| Error::internal("the Python parser returned no module"))?;

    let main = find_main(&module, &source).ok_or_else(|| Error::Agent {
        location: display.clone(),
        message: "no top-level `main` function".into(),
        hint: Some("define `def main(user_input_arg=None, input_data_arg=None)` (or `async def main(...)`); the handler calls it".into()),
    })?;

    let constants = module_string_constants(&module);
    let mut collector = Collector {
        source: &source,
        constants: &constants,
        imports: Vec::new(),
        bedrock_models: Vec::new(),
        agentcore: Vec::new(),
        aws_sdk: Vec::new(),
    };
    collector.visit_body(&module.body);
    let Collector {
        imports,
        bedrock_models,
        agentcore,
        aws_sdk,
        ..
    } = collector;

    Ok(AgentAnalysis {
        path: path.to_path_buf(),
        display,
        package_dir,
        source,
        main,
        imports,
        bedrock_models,
        agentcore_code_interpreter: agentcore,
        aws_sdk_use: aws_sdk,
    })
}

fn find_main(module: &ModModule, source: &str) -> Option<MainSignature> {
    // The last top-level definition wins, as it does when Python runs the module.
    module.body.iter().rev().find_map(|stmt| match stmt {
        Stmt::FunctionDef(def) if def.name.as_str() == "main" => {
            let params = &def.parameters;
            Some(MainSignature {
                is_async: def.is_async,
                positional: params
                    .posonlyargs
                    .iter()
                    .chain(params.args.iter())
                    .map(|p| p.parameter.name.to_string())
                    .collect(),
                has_varargs: params.vararg.is_some(),
                line: line_col(source, def.start().to_usize()).0,
            })
        }
        _ => None,
    })
}

/// `NAME = "literal"` at module level, so `BedrockModel(model_id=MODEL_ID)` can be resolved.
fn module_string_constants(module: &ModModule) -> BTreeMap<String, String> {
    let mut constants = BTreeMap::new();
    for stmt in &module.body {
        let (targets, value): (Vec<&Expr>, &Expr) = match stmt {
            Stmt::Assign(assign) => (assign.targets.iter().collect(), &assign.value),
            Stmt::AnnAssign(assign) => match &assign.value {
                Some(value) => (vec![&*assign.target], value),
                None => continue,
            },
            _ => continue,
        };
        for target in targets {
            if let Expr::Name(name) = target {
                match value {
                    Expr::StringLiteral(s) => {
                        constants.insert(name.id.to_string(), s.value.to_str().to_string());
                    }
                    // Rebinding to something else makes the name non-constant.
                    _ => {
                        constants.remove(name.id.as_str());
                    }
                }
            }
        }
    }
    constants
}

struct Collector<'s> {
    source: &'s str,
    constants: &'s BTreeMap<String, String>,
    imports: Vec<Import>,
    bedrock_models: Vec<BedrockModelUse>,
    agentcore: Vec<usize>,
    aws_sdk: Vec<usize>,
}

impl Collector<'_> {
    fn line(&self, offset: usize) -> usize {
        line_col(self.source, offset).0
    }

    fn literal(&self, expr: &Expr) -> Option<String> {
        match expr {
            Expr::StringLiteral(s) => Some(s.value.to_str().to_string()),
            Expr::Name(name) => self.constants.get(name.id.as_str()).cloned(),
            _ => None,
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
            self.agentcore.push(line);
        }
        if top == "boto3"
            || (module.starts_with("strands_tools") && names.iter().any(|n| n == "use_aws"))
            || module == "strands_tools.use_aws"
        {
            self.aws_sdk.push(line);
        }
        self.imports.push(Import {
            module,
            names,
            line,
        });
    }

    fn call(&mut self, call: &ruff_python_ast::ExprCall) {
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
                    },
                    Some(expr) => BedrockModelUse {
                        model_id: self.literal(expr),
                        is_default: false,
                        line,
                    },
                });
            }
            "Agent" => {
                // Agent(model=...) takes a model id string (Bedrock) or a model object; the first
                // positional parameter is `model`.
                let model = keyword("model").or_else(|| call.arguments.args.first());
                match model {
                    None => self.bedrock_models.push(BedrockModelUse {
                        model_id: None,
                        is_default: true,
                        line,
                    }),
                    Some(Expr::NoneLiteral(_)) => self.bedrock_models.push(BedrockModelUse {
                        model_id: None,
                        is_default: true,
                        line,
                    }),
                    Some(expr) => {
                        if let Some(id) = self.literal(expr) {
                            self.bedrock_models.push(BedrockModelUse {
                                model_id: Some(id),
                                is_default: false,
                                line,
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
                    self.record_import(alias.name.to_string(), Vec::new(), line);
                }
            }
            Stmt::ImportFrom(from) if from.level == 0 => {
                if let Some(module) = &from.module {
                    let line = self.line(from.start().to_usize());
                    let names = from.names.iter().map(|a| a.name.to_string()).collect();
                    self.record_import(module.to_string(), names, line);
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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..source.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyse_str(src: &str) -> Result<AgentAnalysis> {
        analyse_source(
            Path::new("agent.py"),
            None,
            src.to_string(),
            Runtime { minor: 13 },
        )
    }

    #[test]
    fn async_main_with_two_parameters() {
        let a = analyse_str(
            "async def main(user_input_arg=None, input_data_arg=None):\n    return 1\n",
        )
        .unwrap();
        assert!(a.main.is_async);
        assert_eq!(a.main.positional, ["user_input_arg", "input_data_arg"]);
        assert_eq!(a.main.arity(), 2);
    }

    #[test]
    fn sync_main_arity() {
        assert_eq!(
            analyse_str("def main():\n    pass\n").unwrap().main.arity(),
            0
        );
        assert_eq!(
            analyse_str("def main(x):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            1
        );
        assert_eq!(
            analyse_str("def main(*args):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            2
        );
        assert!(
            !analyse_str("def main(a, b, c=1):\n    pass\n")
                .unwrap()
                .main
                .is_async
        );
    }

    #[test]
    fn nested_main_does_not_count() {
        let err = analyse_str("class A:\n    def main(self):\n        pass\n").unwrap_err();
        assert!(err.to_string().contains("no top-level `main`"), "{err}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = analyse_str("import os\n\ndef main(:\n    pass\n").unwrap_err();
        let Error::Agent {
            location, message, ..
        } = err
        else {
            panic!()
        };
        assert_eq!(location, "agent.py:3:10");
        assert!(message.starts_with("syntax error"), "{message}");
    }

    #[test]
    fn python_3_12_and_3_13_syntax_parses() {
        let src = "type Pair = tuple[int, int]\n\ndef main(u=None, d=None):\n    songs = ['a']\n    s = f\"{'\\n'.join(songs)} {f\"{u}\"}\"\n    match d:\n        case {'k': v}:\n            return v\n        case _:\n            return s\n";
        analyse_str(src).unwrap();
    }

    #[test]
    fn pep_701_fstring_is_refused_for_an_older_runtime() {
        let src = "def main(u=None, d=None):\n    return f\"{\"nested\"}\"\n";
        let err =
            analyse_source(Path::new("a.py"), None, src.into(), Runtime { minor: 11 }).unwrap_err();
        let Error::Agent { location, .. } = err else {
            panic!()
        };
        assert!(location.starts_with("a.py:2:"), "{location}");
        analyse_source(Path::new("a.py"), None, src.into(), Runtime { minor: 12 }).unwrap();
    }

    #[test]
    fn imports_and_models() {
        let src = r#"
import os, json
from strands import Agent, tool
from strands.models import BedrockModel
from strands_tools import calculator, use_aws
from . import sibling
import boto3
MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
model = BedrockModel(model_id=MODEL)
fallback = BedrockModel(model_id=os.environ["M"])
default_agent = Agent()
literal_agent = Agent(model="anthropic.claude-3-haiku-20240307-v1:0")
object_agent = Agent(model=model, tools=[calculator])
def main(user_input_arg=None, input_data_arg=None):
    from bedrock_agentcore.tools.code_interpreter_client import code_session
    return None
"#;
        let a = analyse_str(src).unwrap();
        let tops: Vec<&str> = a.imports.iter().map(|i| i.top_level()).collect();
        assert_eq!(
            tops,
            [
                "os",
                "json",
                "strands",
                "strands",
                "strands_tools",
                "boto3",
                "bedrock_agentcore"
            ]
        );
        assert_eq!(
            a.bedrock_models,
            vec![
                BedrockModelUse {
                    model_id: Some("us.anthropic.claude-sonnet-4-20250514-v1:0".into()),
                    is_default: false,
                    line: 9
                },
                BedrockModelUse {
                    model_id: None,
                    is_default: false,
                    line: 10
                },
                BedrockModelUse {
                    model_id: None,
                    is_default: true,
                    line: 11
                },
                BedrockModelUse {
                    model_id: Some("anthropic.claude-3-haiku-20240307-v1:0".into()),
                    is_default: false,
                    line: 12
                },
            ]
        );
        assert_eq!(a.agentcore_code_interpreter, vec![15]);
        assert_eq!(a.aws_sdk_use, vec![5, 7]);
    }

    #[test]
    fn line_col_counts_characters() {
        // "é" is two bytes: byte 6 is the space, the third character of line 2.
        assert_eq!(line_col("ab\ncé d", 6), (2, 3));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
