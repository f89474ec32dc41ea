//! Agent analysis (reference §5): the agent file is parsed with a real Python parser (ruff's, which
//! reads 3.13 syntax) before anything else. It yields `main`'s shape, the imports, and the
//! facts the IAM inference needs (Bedrock model ids, AgentCore code interpreter, boto3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions};
use ruff_text_size::Ranged;

use crate::error::{Error, Result};
use crate::files;
use crate::lambda::compile_checks;
use crate::settings::Runtime;

/// The largest agent source we accept; generated agents are a few hundred lines.
pub const MAX_AGENT_BYTES: u64 = 1024 * 1024;

/// Entry files looked for, in order, when `--agent` names a directory.
pub const ENTRY_FILES: [&str; 3] = ["agent.py", "main.py", "app.py"];

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MainSignature {
    pub is_async: bool,
    /// Positional parameters (posonly + regular), in order.
    pub positional: Vec<String>,
    pub has_varargs: bool,
    pub line: usize,
    /// Positional parameters without a default.
    #[serde(skip)]
    pub required_positional: usize,
    /// Keyword-only parameters without a default (the handler passes none).
    #[serde(skip)]
    pub required_keyword_only: Vec<String>,
    /// Keyword-only parameters with a default: the handler passes none of them either.
    #[serde(skip)]
    pub optional_keyword_only: Vec<String>,
    /// A `def` whose body yields: calling it gives a generator, not an answer.
    #[serde(skip)]
    pub is_generator: bool,
    /// Imported from a module agentdeploy does not ship (an installed package): its parameters
    /// are read at cold start (`inspect.signature`), not here.
    #[serde(skip)]
    pub read_at_cold_start: bool,
}

impl MainSignature {
    fn of(
        parameters: &ast::Parameters,
        is_async: bool,
        body: &[Stmt],
        line: usize,
    ) -> MainSignature {
        let positional: Vec<&ast::ParameterWithDefault> = parameters
            .posonlyargs
            .iter()
            .chain(parameters.args.iter())
            .collect();
        let mut yields = YieldFinder::default();
        yields.visit_body(body);
        let (required_keyword_only, optional_keyword_only): (Vec<String>, Vec<String>) = {
            let (required, optional): (Vec<_>, Vec<_>) = parameters
                .kwonlyargs
                .iter()
                .partition(|p| p.default.is_none());
            let names = |list: Vec<&ast::ParameterWithDefault>| {
                list.iter().map(|p| p.parameter.name.to_string()).collect()
            };
            (names(required), names(optional))
        };
        MainSignature {
            is_async,
            positional: positional
                .iter()
                .map(|p| p.parameter.name.to_string())
                .collect(),
            has_varargs: parameters.vararg.is_some(),
            line,
            required_positional: positional.iter().filter(|p| p.default.is_none()).count(),
            required_keyword_only,
            optional_keyword_only,
            is_generator: yields.found,
            read_at_cold_start: false,
        }
    }

    /// Why the handler cannot call this as `kind` (None: it can).
    fn uncallable(&self, name: &str, kind: EntryKind) -> Option<String> {
        let passes = match kind {
            EntryKind::Main => "at most two positional arguments (user_input, input_data)",
            EntryKind::Handler => "two positional arguments (event, context)",
            EntryKind::Agent => return None,
        };
        if self.required_positional > 2 {
            return Some(format!(
                "`{name}` needs {} positional arguments but the handler passes {passes}",
                self.required_positional
            ));
        }
        if let Some(keyword) = self.required_keyword_only.first() {
            return Some(format!(
                "`{name}` needs the keyword-only argument `{keyword}`, which the handler cannot know; give it a default"
            ));
        }
        // `def main(*, user_input_arg=None, ...)`: called with nothing, it would answer every
        // request as if it had been sent no input.
        if kind == EntryKind::Main
            && self.positional.is_empty()
            && !self.has_varargs
            && let Some(keyword) = self.optional_keyword_only.first()
        {
            return Some(format!(
                "`{name}` takes `{keyword}` by keyword only (after `*`), but the handler passes (user_input, input_data) positionally: it would never receive the input; drop the `*`"
            ));
        }
        if self.is_generator {
            return Some(format!(
                "`{name}` is {} generator: calling it yields values instead of returning an answer",
                if self.is_async { "an async" } else { "a" }
            ));
        }
        None
    }
}

/// Whether a function body yields (nested functions, lambdas and classes are their own scopes).
#[derive(Default)]
struct YieldFinder {
    found: bool,
}

impl<'a> Visitor<'a> for YieldFinder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
            visitor::walk_stmt(self, stmt);
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Yield(_) | Expr::YieldFrom(_) => self.found = true,
            Expr::Lambda(_) => {}
            _ => visitor::walk_expr(self, expr),
        }
    }
}

impl MainSignature {
    /// How many of (user_input, input_data) the handler passes positionally.
    /// How many of (user_input, input_data) the handler passes; `None`: decided at cold start.
    pub fn arity(&self) -> Option<usize> {
        if self.read_at_cold_start {
            None
        } else if self.has_varargs {
            Some(2)
        } else {
            Some(self.positional.len().min(2))
        }
    }
}

/// What the handler calls (reference §5 "Entry point").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A function called with (input, data), as `main` is.
    Main,
    /// A Lambda-style `handler(event, context)`: given the raw event, its answer passed through.
    Handler,
    /// A module-level Strands `Agent`: called with the input, answering `str(result)`.
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub name: String,
    pub line: usize,
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
    pub entry: Entry,
    /// The entry function's signature (for an `Agent` entry: none, never used).
    pub main: MainSignature,
    pub imports: Vec<Import>,
    pub bedrock_models: Vec<BedrockModelUse>,
    /// Lines that use AgentCore's code interpreter client.
    pub agentcore_code_interpreter: Vec<usize>,
    /// Lines that use boto3 / `use_aws`: the role needs a `--policy` we cannot infer.
    pub aws_sdk_use: Vec<usize>,
    /// A single-file agent's own modules beside it that its imports reach (they ship with it).
    pub local_modules: Vec<LocalModule>,
    /// What the analysis found worth saying that does not stop the deploy.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl AgentAnalysis {
    /// Top-level module names of the agent's own code shipped beside the handler (a directory
    /// agent's `.py` files and packages), whose Agents the handler isolates too.
    pub fn local_module_names(&self) -> Vec<String> {
        let Some(dir) = &self.package_dir else {
            return self.local_modules.iter().map(|m| m.name.clone()).collect();
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        let path = entry.path();
                        if path == self.path {
                            return None;
                        }
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if let Some(stem) = name.strip_suffix(".py") {
                            return Some(stem.to_string());
                        }
                        path.join("__init__.py").is_file().then_some(name)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

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
        return entry_file_by_content(agent).map(|file| (file, Some(agent.to_path_buf())));
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

/// A directory whose entry file has another name (`recipe_bot.py`, as published samples are
/// laid out): the one top-level `.py` file that defines something to call.
fn entry_file_by_content(dir: &Path) -> Result<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::agent(dir.display().to_string(), format!("cannot read: {e}")))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            path.extension().and_then(|e| e.to_str()) == Some("py")
                && path.is_file()
                && !name.starts_with('_')
                && !name.starts_with("test_")
                && !matches!(name, "setup.py" | "conftest.py")
        })
        .collect();
    files.sort();
    let callable = |path: &PathBuf| {
        std::fs::read_to_string(path).is_ok_and(|text| {
            text.lines().any(|line| {
                line.starts_with("def main(")
                    || line.starts_with("async def main(")
                    || line.starts_with("def handler(")
                    || line.starts_with("def lambda_handler(")
                    || (line.contains("Agent(") && !line.starts_with([' ', '\t', '#']))
            })
        })
    };
    let candidates: Vec<&PathBuf> = files.iter().filter(|f| callable(f)).collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Agent {
            location: dir.display().to_string(),
            message: format!(
                "directory has no entry file ({}, or one file with a top-level `main`, handler or `Agent(...)`)",
                ENTRY_FILES.join(", ")
            ),
            hint: Some(
                "pass --agent with the .py file that defines main() or the Agent, or rename it to agent.py"
                    .into(),
            ),
        }),
        several => Err(Error::Agent {
            location: dir.display().to_string(),
            message: format!(
                "several files could be the entry: {}",
                several
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(format!(
                "name the entry file: --agent {}",
                several[0].display()
            )),
        }),
    }
}

/// Room for the parser and the tree walks, which recurse once per nesting level: an agent file
/// (at most 1 MiB) nested as deep as it can be (a million unary minuses: measured under 1 GiB
/// in a debug build) would overflow a default 8 MiB stack. Reserved, not used: the memory is
/// touched only as deep as the code really nests. The smaller size is the fallback where the
/// system will not reserve that much address space.
const ANALYSIS_STACK_BYTES: [usize; 2] = [2 << 30, 256 << 20];

/// Deepest statement/expression nesting CPython 3.13 compiles; past it, compile() raises
/// RecursionError (measured: `x = 1` then 9,995 `+ 1` terms compile, 9,996 do not).
const MAX_COMPILABLE_DEPTH: usize = 9_997;

/// Brackets CPython's tokenizer allows open at once ("too many nested parentheses" past it).
const MAX_BRACKET_NESTING: usize = 200;
/// Indentation levels CPython's tokenizer allows ("too many levels of indentation" at 100).
const MAX_INDENT_LEVELS: usize = 99;
/// F-strings CPython 3.12+ allows nested in one another ("too many nested f-strings" at 150).
const MAX_FSTRING_NESTING: usize = 149;

/// The first of CPython's tokenizer limits the code passes: brackets open at once, indentation
/// levels, nested f-strings. The offset, the message and the hint.
fn tokenizer_limit(
    tokens: &ruff_python_ast::token::Tokens,
) -> Option<(usize, String, &'static str)> {
    let (mut brackets, mut indents, mut fstrings) = (0usize, 0usize, 0usize);
    for token in tokens.iter() {
        let offset = token.range().start().to_usize();
        match token.kind() {
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                brackets += 1;
                if brackets > MAX_BRACKET_NESTING {
                    return Some((
                        offset,
                        format!(
                            "too many nested parentheses: Python allows {MAX_BRACKET_NESTING} brackets open at once"
                        ),
                        "split the expression with intermediate variables",
                    ));
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                brackets = brackets.saturating_sub(1)
            }
            TokenKind::Indent => {
                indents += 1;
                if indents > MAX_INDENT_LEVELS {
                    return Some((
                        offset,
                        format!(
                            "too many levels of indentation: Python allows {MAX_INDENT_LEVELS}"
                        ),
                        "move the inner blocks into functions",
                    ));
                }
            }
            TokenKind::Dedent => indents = indents.saturating_sub(1),
            TokenKind::FStringStart | TokenKind::TStringStart => {
                fstrings += 1;
                if fstrings > MAX_FSTRING_NESTING {
                    return Some((
                        offset,
                        format!("too many nested f-strings: Python allows {MAX_FSTRING_NESTING}"),
                        "build the inner strings first, in variables",
                    ));
                }
            }
            TokenKind::FStringEnd | TokenKind::TStringEnd => fstrings = fstrings.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Reads, parses and analyses the agent, on a thread with room for deeply nested code.
pub fn analyse(agent: &Path, runtime: Runtime, entry: Option<&str>) -> Result<AgentAnalysis> {
    std::thread::scope(|scope| {
        let mut spawned = Err(std::io::Error::other("no stack size to try"));
        for bytes in ANALYSIS_STACK_BYTES {
            spawned = std::thread::Builder::new()
                .name("agent-analysis".into())
                .stack_size(bytes)
                .spawn_scoped(scope, || analyse_here(agent, runtime, entry));
            if spawned.is_ok() {
                break;
            }
        }
        spawned
            .map_err(|e| Error::internal(format!("cannot start the agent analysis: {e}")))?
            .join()
            .map_err(|_| Error::internal("the agent analysis panicked"))?
    })
}

fn analyse_here(agent: &Path, runtime: Runtime, entry: Option<&str>) -> Result<AgentAnalysis> {
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
                "the agent needs a `main(user_input_arg=None, input_data_arg=None)` or a module-level `agent = Agent(...)`".into(),
            ),
        });
    }
    analyse_source(&path, package_dir, source, runtime, entry)
}

pub fn analyse_source(
    path: &Path,
    package_dir: Option<PathBuf>,
    source: String,
    runtime: Runtime,
    requested_entry: Option<&str>,
) -> Result<AgentAnalysis> {
    let display = path.display().to_string();
    let module = parse_module(&display, &source, runtime)?;
    let mut found = top_level(&module, &source);
    resolve_imported_entries(&mut found, path, runtime, requested_entry)?;
    let (entry, main) = find_entry(&found, &display, requested_entry)?;
    let mut warnings = Vec::new();
    if entry.name != "lambda_handler"
        && let Some(theirs) = found.functions.get("lambda_handler")
    {
        // Lambda calls `handler.lambda_handler`, which is agentdeploy's from here on.
        warnings.push(format!(
            "{display}:{}: the agent's own `lambda_handler` is not what Lambda calls: the handler calls `{}` (pass --entry lambda_handler to use yours)",
            theirs.line, entry.name
        ));
    }
    warnings.extend(crate::lambda::shared_state::warnings(
        &module, &source, &display,
    ));
    let facts = collect_facts(&module, &source, &display);
    let mut analysis = AgentAnalysis {
        path: path.to_path_buf(),
        display,
        package_dir,
        source,
        entry,
        main,
        imports: facts.imports,
        bedrock_models: facts.bedrock_models,
        agentcore_code_interpreter: facts.agentcore,
        aws_sdk_use: facts.aws_sdk,
        local_modules: Vec::new(),
        warnings,
    };
    if analysis.package_dir.is_none() {
        ship_local_imports(&mut analysis, runtime)?;
    }
    Ok(analysis)
}

/// Parses one file of the agent's code; syntax errors name that file's line and column.
/// Every way CPython would refuse the file, in the order it would (syntax, version, bracket
/// nesting, depth, compile checks), each with its own location and hint: one list, one place.
fn parse_module(display: &str, source: &str, runtime: Runtime) -> Result<ModModule> {
    let version = PythonVersion {
        major: 3,
        minor: runtime.minor,
    };
    let options = ParseOptions::from(Mode::Module).with_target_version(version);
    let parsed = ruff_python_parser::parse(source, options).map_err(|err| {
        let (line, col) = line_col(source, err.location.start().to_usize());
        Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message: format!("syntax error: {}", err.error),
            hint: Some(
                "fix the syntax error; the file must run under the function's Python".into(),
            ),
        }
    })?;
    if let Some(err) = parsed.unsupported_syntax_errors().first() {
        let (line, col) = line_col(source, err.range.start().to_usize());
        return Err(Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message: format!("{err}"),
            hint: Some("use a newer --runtime, or rewrite this for the selected Python".into()),
        });
    }
    if let Some((offset, message, hint)) = tokenizer_limit(parsed.tokens()) {
        let (line, col) = line_col(source, offset);
        return Err(Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message,
            hint: Some(hint.into()),
        });
    }
    let module = parsed
        .try_into_module()
        .map(|p| p.into_syntax())
        .ok_or_else(|| Error::internal("the Python parser returned no module"))?;
    let mut probe = DepthProbe::default();
    probe.visit_body(&module.body);
    if probe.deepest > MAX_COMPILABLE_DEPTH {
        let (line, col) = line_col(source, probe.deepest_at);
        return Err(Error::Agent {
            location: format!("{display}:{line}:{col}"),
            message: format!(
                "code nested {} levels deep: CPython cannot compile more than about {MAX_COMPILABLE_DEPTH} (RecursionError during compilation)",
                probe.deepest
            ),
            hint: Some("split the expression: sum() over a list, or intermediate variables".into()),
        });
    }
    let refused = compile_checks::coding_cookie_problem(source)
        .map(|(line, message)| (format!("{display}:{line}"), message))
        .or_else(|| {
            compile_checks::first_compile_error(&module, source, version).map(|(at, message)| {
                let (line, col) = line_col(source, at);
                (format!("{display}:{line}:{col}"), message)
            })
        });
    if let Some((location, message)) = refused {
        return Err(Error::Agent {
            location,
            message: format!("{message} (Python refuses to compile this)"),
            hint: Some(
                "fix it: deployed as it is, the function would fail with a SyntaxError on every call"
                    .into(),
            ),
        });
    }
    Ok(module)
}

/// How deeply statements and expressions nest, and where the deepest point is.
#[derive(Default)]
struct DepthProbe {
    depth: usize,
    deepest: usize,
    deepest_at: usize,
}

impl DepthProbe {
    fn enter(&mut self, start: usize) {
        self.depth += 1;
        if self.depth > self.deepest {
            self.deepest = self.depth;
            self.deepest_at = start;
        }
    }
}

impl<'a> Visitor<'a> for DepthProbe {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        self.enter(stmt.range().start().to_usize());
        visitor::walk_stmt(self, stmt);
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.enter(expr.range().start().to_usize());
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }
}

struct Facts {
    imports: Vec<Import>,
    bedrock_models: Vec<BedrockModelUse>,
    agentcore: Vec<usize>,
    aws_sdk: Vec<usize>,
}

fn collect_facts(module: &ModModule, source: &str, _display: &str) -> Facts {
    let constants = module_string_constants(module);
    let mut collector = Collector {
        source,
        constants: &constants,
        imports: Vec::new(),
        bedrock_models: Vec::new(),
        agentcore: Vec::new(),
        aws_sdk: Vec::new(),
    };
    collector.visit_body(&module.body);
    Facts {
        imports: collector.imports,
        bedrock_models: collector.bedrock_models,
        agentcore: collector.agentcore,
        aws_sdk: collector.aws_sdk,
    }
}

/// A module of the agent's own beside the entry file, shipped with it (reference §5 "Local modules").
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalModule {
    /// The top-level import name (`utils` for `utils/prompts.py`).
    pub name: String,
    /// Its `.py` files, relative to the entry file's folder, in the layout they ship with.
    pub files: Vec<PathBuf>,
}

/// The entry file's imports that resolve beside it (`name.py` or a `name/` package), and
/// theirs, transitively: each file is parsed (its syntax errors name it) and its imports, model
/// ids and AWS use join the analysis, as the entry file's do.
fn ship_local_imports(analysis: &mut AgentAnalysis, runtime: Runtime) -> Result<()> {
    let Some(dir) = analysis.path.parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    let entry_stem = analysis
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let mut pending: Vec<String> = analysis
        .imports
        .iter()
        .map(|i| i.top_level().to_string())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) || entry_stem.as_deref() == Some(name.as_str()) {
            continue;
        }
        let files = local_module_files(&dir, &name);
        if files.is_empty() {
            continue;
        }
        for relative in &files {
            let path = dir.join(relative);
            let shown = display_beside(&analysis.display, relative);
            let source = std::fs::read_to_string(&path)
                .map_err(|e| Error::agent(&shown, format!("cannot read: {e}")))?;
            let module = parse_module(&shown, &source, runtime)?;
            let facts = collect_facts(&module, &source, &shown);
            pending.extend(facts.imports.iter().map(|i| i.top_level().to_string()));
            analysis.imports.extend(facts.imports);
            analysis.bedrock_models.extend(facts.bedrock_models);
            analysis.agentcore_code_interpreter.extend(facts.agentcore);
            analysis.aws_sdk_use.extend(facts.aws_sdk);
        }
        analysis.local_modules.push(LocalModule { name, files });
    }
    analysis.local_modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// `name.py`, or every `.py` file of the `name/` package (no links, no caches), relative to `dir`.
fn local_module_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let file = dir.join(format!("{name}.py"));
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
        return vec![PathBuf::from(format!("{name}.py"))];
    }
    let package = dir.join(name);
    if !std::fs::symlink_metadata(&package).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let mut files = Vec::new();
    let mut stack = vec![package];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() && file_name != "__pycache__" && !file_name.starts_with('.') {
                stack.push(path);
            } else if kind.is_file()
                && file_name.ends_with(".py")
                && let Ok(relative) = path.strip_prefix(dir)
            {
                files.push(relative.to_path_buf());
            }
        }
    }
    files.sort();
    files
}

/// `agents/bot.py` + `utils/x.py` → `agents/utils/x.py`, for messages.
fn display_beside(entry_display: &str, relative: &Path) -> String {
    Path::new(entry_display)
        .parent()
        .unwrap_or(Path::new(""))
        .join(relative)
        .display()
        .to_string()
}

/// What the module defines at top level that the handler could call. A later definition of a
/// name replaces an earlier one, as it does when Python runs the module.
#[derive(Default)]
struct TopLevel {
    functions: BTreeMap<String, MainSignature>,
    /// `NAME = Agent(...)` (or `strands.Agent(...)`), with its line.
    agents: BTreeMap<String, usize>,
    /// `from MODULE import NAME [as BOUND]`, by the name bound.
    imported: BTreeMap<String, ImportedName>,
}

#[derive(Debug, Clone)]
struct ImportedName {
    module: String,
    /// Leading dots: 0 absolute, 1 this folder, 2 its parent...
    level: u32,
    name: String,
    line: usize,
}

impl TopLevel {
    /// A later binding of `name` replaces whatever it was, as it does when Python runs the module.
    fn unbind(&mut self, name: &str) {
        self.functions.remove(name);
        self.agents.remove(name);
        self.imported.remove(name);
    }

    /// `name = value`: an Agent, another name's binding (`main = real`), or a lambda.
    fn assign(&mut self, name: &str, value: &Expr, line: usize) {
        let alias_of = match value {
            Expr::Name(other) => Some((
                self.functions.get(other.id.as_str()).cloned(),
                self.agents.get(other.id.as_str()).copied(),
                self.imported.get(other.id.as_str()).cloned(),
            )),
            _ => None,
        };
        self.unbind(name);
        let name = name.to_string();
        if matches!(value, Expr::Call(call) if is_agent_constructor(&call.func)) {
            self.agents.insert(name, line);
        } else if let Some((function, agent, imported)) = alias_of {
            if let Some(signature) = function {
                self.functions.insert(name, signature);
            } else if let Some(agent_line) = agent {
                self.agents.insert(name, agent_line);
            } else if let Some(imported) = imported {
                self.imported.insert(name, imported);
            }
        } else if let Expr::Lambda(lambda) = value {
            // `main = lambda ...` is called like a def of that signature.
            let parameters = lambda.parameters.as_deref().cloned().unwrap_or_default();
            let signature = MainSignature::of(&parameters, false, &[], line);
            self.functions.insert(name, signature);
        }
    }

    /// `from MODULE import NAME [as BOUND], ...`.
    fn import_from(&mut self, from: &ast::StmtImportFrom, line: usize) {
        for alias in &from.names {
            if alias.name.as_str() == "*" {
                continue;
            }
            let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
            self.unbind(&bound);
            self.imported.insert(
                bound,
                ImportedName {
                    module: from
                        .module
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                    level: from.level,
                    name: alias.name.to_string(),
                    line,
                },
            );
        }
    }
}

fn top_level(module: &ModModule, source: &str) -> TopLevel {
    let mut found = TopLevel::default();
    for stmt in &module.body {
        match stmt {
            Stmt::FunctionDef(def) => {
                let signature = MainSignature::of(
                    &def.parameters,
                    def.is_async,
                    &def.body,
                    line_col(source, def.start().to_usize()).0,
                );
                let name = def.name.to_string();
                found.unbind(&name);
                found.functions.insert(name, signature);
            }
            Stmt::Assign(assign) => {
                let line = line_col(source, assign.start().to_usize()).0;
                for target in &assign.targets {
                    if let Expr::Name(name) = target {
                        found.assign(name.id.as_str(), &assign.value, line);
                    }
                }
            }
            Stmt::AnnAssign(assign) => {
                if let Expr::Name(name) = &*assign.target {
                    let name = name.id.to_string();
                    found.unbind(&name);
                    if let Some(Expr::Call(call)) = assign.value.as_deref()
                        && is_agent_constructor(&call.func)
                    {
                        found
                            .agents
                            .insert(name, line_col(source, assign.start().to_usize()).0);
                    }
                }
            }
            Stmt::Delete(delete) => {
                for target in &delete.targets {
                    if let Expr::Name(name) = target {
                        found.unbind(name.id.as_str());
                    }
                }
            }
            Stmt::ImportFrom(from) => {
                found.import_from(from, line_col(source, from.start().to_usize()).0);
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                    found.unbind(bound.split('.').next().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
    found
}

/// How many `from x import y` hops an entry is followed through the agent's own modules.
const IMPORT_HOPS: usize = 4;

/// An entry candidate (`main`, a handler name, `--entry`) that the entry file imports rather than
/// defines (`from helpers import main`): read from the agent's own module when it ships one,
/// else (an installed package) called as Python would and its parameters read at cold start.
fn resolve_imported_entries(
    found: &mut TopLevel,
    entry_file: &Path,
    runtime: Runtime,
    requested: Option<&str>,
) -> Result<()> {
    let candidates: Vec<String> = requested
        .into_iter()
        .chain(["main"])
        .chain(HANDLER_NAMES)
        .filter(|name| found.imported.contains_key(*name))
        .map(String::from)
        .collect();
    for bound in candidates {
        let Some(imported) = found.imported.get(&bound).cloned() else {
            continue;
        };
        match imported_definition(&imported, entry_file, runtime, IMPORT_HOPS)? {
            Some(Definition::Function(signature)) => {
                found.functions.insert(
                    bound,
                    MainSignature {
                        line: imported.line,
                        ..signature
                    },
                );
            }
            Some(Definition::Agent) => {
                found.agents.insert(bound, imported.line);
            }
            None => {
                found.functions.insert(
                    bound,
                    MainSignature {
                        line: imported.line,
                        read_at_cold_start: true,
                        ..MainSignature::default()
                    },
                );
            }
        }
    }
    Ok(())
}

enum Definition {
    Function(MainSignature),
    Agent,
}

/// What `imported` names in the agent's own module, if it is one (None: not the agent's own,
/// or not found there).
fn imported_definition(
    imported: &ImportedName,
    importer: &Path,
    runtime: Runtime,
    hops: usize,
) -> Result<Option<Definition>> {
    let mut dir = importer.parent().unwrap_or(Path::new(".")).to_path_buf();
    for _ in 1..imported.level {
        dir = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    }
    let base = imported
        .module
        .split('.')
        .filter(|part| !part.is_empty())
        .fold(dir, |path, part| path.join(part));
    let file = [base.with_extension("py"), base.join("__init__.py")]
        .into_iter()
        .find(|file| file.is_file());
    let Some(file) = file else {
        return Ok(None);
    };
    let display = file.display().to_string();
    let source = files::read_user_text(&file)
        .map_err(|e| Error::agent(&display, format!("cannot read: {e}")))?;
    let module = parse_module(&display, &source, runtime)?;
    let mut theirs = top_level(&module, &source);
    if let Some(signature) = theirs.functions.remove(&imported.name) {
        return Ok(Some(Definition::Function(signature)));
    }
    if theirs.agents.contains_key(&imported.name) {
        return Ok(Some(Definition::Agent));
    }
    match theirs.imported.remove(&imported.name) {
        Some(next) if hops > 0 => imported_definition(&next, &file, runtime, hops - 1),
        _ => Ok(None),
    }
}

fn is_agent_constructor(func: &Expr) -> bool {
    match func {
        Expr::Name(name) => name.id.as_str() == "Agent",
        Expr::Attribute(attr) => attr.attr.as_str() == "Agent",
        _ => false,
    }
}

/// Lambda-style handlers the agent may define itself (called with the raw event).
const HANDLER_NAMES: [&str; 2] = ["handler", "lambda_handler"];

/// The entry point, in reference §5's order: `--entry`, `main`, a Lambda-style handler, the one
/// module-level Agent.
/// reference §5's rules in their order, each with its own error and hint; kept in one piece so the
/// order reads top to bottom.
fn find_entry(
    found: &TopLevel,
    display: &str,
    requested: Option<&str>,
) -> Result<(Entry, MainSignature)> {
    let no_signature = |line| MainSignature {
        line,
        ..MainSignature::default()
    };
    let function_entry = |name: &str, signature: &MainSignature| {
        let kind = if HANDLER_NAMES.contains(&name) {
            EntryKind::Handler
        } else {
            EntryKind::Main
        };
        if let Some(problem) = signature.uncallable(name, kind) {
            return Err(Error::Agent {
                location: format!("{display}:{}", signature.line),
                message: problem,
                hint: Some(match kind {
                    EntryKind::Handler => "define it as `def NAME(event, context)`".into(),
                    _ => "define it as `def main(user_input_arg=None, input_data_arg=None)` returning the answer".into(),
                }),
            });
        }
        Ok((
            Entry {
                kind,
                name: name.to_string(),
                line: signature.line,
            },
            signature.clone(),
        ))
    };
    if let Some(name) = requested {
        if let Some(signature) = found.functions.get(name) {
            return function_entry(name, signature);
        }
        if let Some(&line) = found.agents.get(name) {
            return Ok((
                Entry {
                    kind: EntryKind::Agent,
                    name: name.to_string(),
                    line,
                },
                no_signature(line),
            ));
        }
        return Err(Error::Agent {
            location: display.to_string(),
            message: format!(
                "--entry `{name}` is neither a top-level function nor a top-level `Agent(...)` variable"
            ),
            hint: Some(entry_candidates_hint(found)),
        });
    }
    if let Some(signature) = found.functions.get("main") {
        return function_entry("main", signature);
    }
    for name in HANDLER_NAMES {
        if let Some(signature) = found.functions.get(name) {
            return function_entry(name, signature);
        }
    }
    match found.agents.len() {
        1 => {
            let (name, &line) = found.agents.iter().next().ok_or_else(|| Error::internal("one agent expected"))?;
            Ok((
                Entry {
                    kind: EntryKind::Agent,
                    name: name.clone(),
                    line,
                },
                no_signature(line),
            ))
        }
        0 => Err(Error::Agent {
            location: display.to_string(),
            message: "nothing to call: no top-level `main`, `handler(event, context)`, `lambda_handler(event, context)` or module-level `Agent(...)`".into(),
            hint: Some("define `def main(user_input_arg=None, input_data_arg=None)` or a module-level `agent = Agent(...)`; the handler calls it".into()),
        }),
        _ => {
            let mut agents: Vec<(&String, &usize)> = found.agents.iter().collect();
            agents.sort_by_key(|(_, line)| **line);
            let listed: Vec<String> = agents
                .iter()
                .map(|(name, line)| format!("`{name}` (line {line})"))
                .collect();
            Err(Error::Agent {
                location: display.to_string(),
                message: format!(
                    "several module-level Agents and no `main`: {}",
                    listed.join(", ")
                ),
                hint: Some(format!(
                    "choose the one callers talk to with --entry NAME (or `entry = \"NAME\"` in the config), e.g. --entry {}",
                    agents[0].0
                )),
            })
        }
    }
}

fn entry_candidates_hint(found: &TopLevel) -> String {
    let mut names: Vec<String> = found.functions.keys().map(|n| format!("{n}()")).collect();
    names.extend(found.agents.keys().map(|n| format!("{n} (Agent)")));
    if names.is_empty() {
        "the file defines no top-level function or Agent".into()
    } else {
        format!("top-level candidates: {}", names.join(", "))
    }
}

/// Every module-level `NAME = value` (and `NAME: T = value`) in order: the statement, the name
/// bound, the value.
pub fn module_assignments(module: &ModModule) -> Vec<(&Stmt, &str, &Expr)> {
    let mut found = Vec::new();
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
                found.push((stmt, name.id.as_str(), value));
            }
        }
    }
    found
}

/// `NAME = "literal"` at module level, so `BedrockModel(model_id=MODEL_ID)` can be resolved.
fn module_string_constants(module: &ModModule) -> BTreeMap<String, ModuleValue> {
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
enum ModuleValue {
    Literal(String),
    /// `os.environ[...]`, `os.getenv(...)`, `os.environ.get(...)` (possibly `or` a default).
    FromEnvironment,
}

/// Whether the expression reads an environment variable (a string known only at run time).
fn reads_environment(expr: &Expr) -> bool {
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

struct Collector<'s> {
    source: &'s str,
    constants: &'s BTreeMap<String, ModuleValue>,
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
                        } else if self.is_read_from_environment(expr) {
                            // A Bedrock model id chosen at deploy time through the environment.
                            self.bedrock_models.push(BedrockModelUse {
                                model_id: None,
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
    use crate::exit_codes::Classified;

    fn analyse_str(src: &str) -> Result<AgentAnalysis> {
        analyse_entry(src, None)
    }

    fn analyse_entry(src: &str, entry: Option<&str>) -> Result<AgentAnalysis> {
        analyse_source(
            Path::new("agent.py"),
            None,
            src.to_string(),
            Runtime { minor: 13 },
            entry,
        )
    }

    const IMPORT: &str = "from strands import Agent\n";

    #[test]
    fn entry_order_is_entry_flag_then_main_then_handler_then_the_one_agent() {
        let both = format!("{IMPORT}agent = Agent()\ndef main(u=None):\n    return agent(u)\n");
        let a = analyse_str(&both).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Main,
                name: "main".into(),
                line: 3
            }
        );
        let a = analyse_entry(&both, Some("agent")).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Agent,
                name: "agent".into(),
                line: 2
            }
        );

        let handler =
            format!("{IMPORT}agent = Agent()\ndef lambda_handler(event, context):\n    return 1\n");
        let a = analyse_str(&handler).unwrap();
        assert_eq!(a.entry.kind, EntryKind::Handler);
        assert_eq!(a.entry.name, "lambda_handler");

        let sample = format!(
            "{IMPORT}import strands\nrecipe_agent: Agent = strands.Agent(system_prompt='x')\nif __name__ == '__main__':\n    while True:\n        print(recipe_agent(input('> ')))\n"
        );
        let a = analyse_str(&sample).unwrap();
        assert_eq!(
            a.entry,
            Entry {
                kind: EntryKind::Agent,
                name: "recipe_agent".into(),
                line: 3
            }
        );
    }

    #[test]
    fn several_agents_without_main_name_each_with_its_line() {
        let src = format!("{IMPORT}researcher = Agent()\nwriter = Agent()\n");
        let err = analyse_str(&src).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`researcher` (line 2)"), "{text}");
        assert!(text.contains("`writer` (line 3)"), "{text}");
        assert!(
            err.hint().unwrap().contains("--entry researcher"),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), 2);
        let a = analyse_entry(&src, Some("writer")).unwrap();
        assert_eq!(a.entry.name, "writer");
    }

    #[test]
    fn a_rebound_name_is_what_python_would_call() {
        // `agent` is rebound to a string: it is no longer an Agent; `main` redefined keeps the last.
        let src = format!(
            "{IMPORT}agent = Agent()\nagent = 'x'\ndef main():\n    pass\ndef main(a, b):\n    pass\n"
        );
        let a = analyse_str(&src).unwrap();
        assert_eq!(a.main.positional, ["a", "b"]);
        let err = analyse_entry(&src, Some("agent")).unwrap_err();
        assert!(
            err.to_string().contains("--entry `agent` is neither"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("main()"), "{err:?}");
    }

    #[test]
    fn async_main_with_two_parameters() {
        let a = analyse_str(
            "async def main(user_input_arg=None, input_data_arg=None):\n    return 1\n",
        )
        .unwrap();
        assert!(a.main.is_async);
        assert_eq!(a.main.positional, ["user_input_arg", "input_data_arg"]);
        assert_eq!(a.main.arity(), Some(2));
    }

    #[test]
    fn sync_main_arity() {
        assert_eq!(
            analyse_str("def main():\n    pass\n").unwrap().main.arity(),
            Some(0)
        );
        assert_eq!(
            analyse_str("def main(x):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            Some(1)
        );
        assert_eq!(
            analyse_str("def main(*args):\n    pass\n")
                .unwrap()
                .main
                .arity(),
            Some(2)
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
        assert!(
            err.to_string()
                .contains("nothing to call: no top-level `main`"),
            "{err}"
        );
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
        let err = analyse_source(
            Path::new("a.py"),
            None,
            src.into(),
            Runtime { minor: 11 },
            None,
        )
        .unwrap_err();
        let Error::Agent { location, .. } = err else {
            panic!()
        };
        assert!(location.starts_with("a.py:2:"), "{location}");
        analyse_source(
            Path::new("a.py"),
            None,
            src.into(),
            Runtime { minor: 12 },
            None,
        )
        .unwrap();
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
