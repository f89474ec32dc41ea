//! The entry point (reference §5 "Entry point"): what the module binds at top level, followed
//! through `main = real` and `from module import main`, and chosen in the documented order.

use std::collections::BTreeMap;
use std::path::Path;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, ModModule, Stmt};
use ruff_text_size::Ranged;

use crate::error::{Error, Result};
use crate::files;
use crate::lambda::analyse::parse::parse_module;
use crate::lambda::analyse::strands::StrandsNames;
use crate::lambda::analyse::syntax::{line_col, module_file, module_statements};
use crate::lambda::runtime::Runtime;

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
    /// A command-line program: what reads its arguments (argparse, `sys.argv`, click, typer).
    #[serde(skip)]
    pub command_line: Option<&'static str>,
    /// Names the body calls (`name(...)`, `name.method(...)`): which module-level Agents a
    /// function orchestrates.
    #[serde(skip)]
    pub calls: std::collections::BTreeSet<String>,
    /// Decorated `@tool`: a tool the model calls, which takes the model's arguments.
    #[serde(skip)]
    pub is_tool: bool,
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
        let mut command_line = CommandLineFinder::default();
        command_line.visit_body(body);
        let mut calls = CallFinder::default();
        calls.visit_body(body);
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
            command_line: command_line.found,
            calls: calls.names,
            is_tool: false,
        }
    }

    /// Why `main` (found by its name, not named by `--entry`) can never receive the caller's
    /// input: it takes no parameters, or it is a command-line program.
    fn deaf_to_input(&self, name: &str) -> Option<String> {
        if self.read_at_cold_start {
            return None;
        }
        if let Some(reader) = self.command_line {
            return Some(format!(
                "`{name}` is a command-line program ({reader}): it reads its arguments from the command line, never the caller's input"
            ));
        }
        (self.positional.is_empty() && !self.has_varargs && self.optional_keyword_only.is_empty())
            .then(|| {
                format!("`{name}` takes no parameters: the caller's input could never reach it")
            })
    }

    /// Why the handler cannot call this as `kind` (None: it can).
    fn uncallable(&self, name: &str, kind: EntryKind) -> Option<String> {
        let passes = match kind {
            EntryKind::Main => "at most two positional arguments (user_input, input_data)",
            EntryKind::Handler => "two positional arguments (event, context)",
            EntryKind::Agent | EntryKind::Entrypoint | EntryKind::Asgi | EntryKind::A2a => {
                return None;
            }
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
pub(crate) struct YieldFinder {
    found: bool,
}

/// What in a function body reads the command line: argparse, `sys.argv` (nested functions and
/// classes are their own scopes).
#[derive(Default)]
pub(crate) struct CommandLineFinder {
    found: Option<&'static str>,
}

impl<'a> Visitor<'a> for CommandLineFinder {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
            visitor::walk_stmt(self, stmt);
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        let found = match expr {
            Expr::Call(call) => match &*call.func {
                Expr::Name(name) if name.id.as_str() == "ArgumentParser" => Some("argparse"),
                Expr::Attribute(attr)
                    if matches!(attr.attr.as_str(), "ArgumentParser" | "parse_args") =>
                {
                    Some("argparse")
                }
                _ => None,
            },
            Expr::Attribute(attr) if attr.attr.as_str() == "argv" => {
                matches!(&*attr.value, Expr::Name(sys) if sys.id.as_str() == "sys")
                    .then_some("sys.argv")
            }
            _ => None,
        };
        if self.found.is_none() {
            self.found = found;
        }
        visitor::walk_expr(self, expr);
    }
}

/// The names a function body calls, directly or through a method (`agent(...)`,
/// `agent.invoke_async(...)`).
#[derive(Default)]
pub(crate) struct CallFinder {
    names: std::collections::BTreeSet<String>,
}

impl<'a> Visitor<'a> for CallFinder {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            let base = match &*call.func {
                Expr::Attribute(attr) => &*attr.value,
                other => other,
            };
            if let Expr::Name(name) = base {
                self.names.insert(name.id.to_string());
            }
        }
        visitor::walk_expr(self, expr);
    }
}

/// `@tool` / `@tool(...)` / `@strands.tool`.
fn is_tool_decorator(decorators: &[ast::Decorator]) -> bool {
    decorators.iter().any(|decorator| {
        let expr = match &decorator.expression {
            Expr::Call(call) => &*call.func,
            other => other,
        };
        match expr {
            Expr::Name(name) => name.id.as_str() == "tool",
            Expr::Attribute(attr) => attr.attr.as_str() == "tool",
            _ => false,
        }
    })
}

/// `@click.command()`, `@click.option(...)`, `@typer_app.command()`: what makes a function a
/// command-line program.
fn command_line_decorator(decorators: &[ast::Decorator]) -> Option<&'static str> {
    decorators.iter().find_map(|decorator| {
        let expr = match &decorator.expression {
            Expr::Call(call) => &*call.func,
            other => other,
        };
        let Expr::Attribute(attr) = expr else {
            return None;
        };
        let mut base = &*attr.value;
        while let Expr::Attribute(inner) = base {
            base = &inner.value;
        }
        match base {
            Expr::Name(name) if name.id.as_str() == "click" => Some("a click command"),
            Expr::Name(name) if name.id.as_str() == "typer" => Some("a typer command"),
            _ if attr.attr.as_str() == "command" => Some("a command-line command"),
            _ => None,
        }
    })
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
    /// A function decorated by a `BedrockAgentCoreApp`'s `@app.entrypoint`: its app is served
    /// as AgentCore serves it (payload in, its answer or its generator's items out).
    Entrypoint,
    /// A module-level ASGI app (FastAPI, Starlette, a `BedrockAgentCoreApp`), served as it is.
    Asgi,
    /// A module-level Strands `A2AServer(agent)`: its A2A app (agent card, JSON-RPC) served as it
    /// is, the card naming the deployed endpoint.
    A2a,
}

/// Which framework builds a module-level app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppFramework {
    /// `BedrockAgentCoreApp()`: an ASGI app whose `@app.entrypoint` is the agent.
    AgentCore,
    /// `FastAPI()` / `Starlette()`.
    Asgi,
    /// Strands' `A2AServer(agent)`.
    A2a,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub name: String,
    pub line: usize,
}

/// What the module defines at top level that the handler could call. A later definition of a
/// name replaces an earlier one, as it does when Python runs the module.
#[derive(Default)]
pub(crate) struct TopLevel {
    pub(crate) functions: BTreeMap<String, MainSignature>,
    /// `NAME = Agent(...)` (or `strands.Agent(...)`), with its line.
    pub(crate) agents: BTreeMap<String, usize>,
    /// `from MODULE import NAME [as BOUND]`, by the name bound.
    pub(crate) imported: BTreeMap<String, ImportedName>,
    /// `NAME = FastAPI()` / `Starlette()` / `BedrockAgentCoreApp()`, with its line.
    pub(crate) apps: BTreeMap<String, (AppFramework, usize)>,
    /// Functions decorated by `@APP.entrypoint` of an AgentCore app: name → app.
    pub(crate) entrypoints: BTreeMap<String, String>,
    /// Lines of `APP.run(...)` / `uvicorn.run(...)` run at import (a server that never returns).
    pub(crate) serves_at_import: Vec<usize>,
    /// What calls build a Strands Agent in this module.
    pub(crate) strands: StrandsNames,
    /// `NAME = Agent(...)` of another framework (the `Agent` imported from elsewhere): name →
    /// (the module it came from, line).
    pub(crate) foreign_agents: BTreeMap<String, (String, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ImportedName {
    pub(crate) module: String,
    /// Leading dots: 0 absolute, 1 this folder, 2 its parent...
    pub(crate) level: u32,
    pub(crate) name: String,
    pub(crate) line: usize,
}

impl TopLevel {
    /// A later binding of `name` replaces whatever it was, as it does when Python runs the module.
    fn unbind(&mut self, name: &str) {
        self.functions.remove(name);
        self.agents.remove(name);
        self.imported.remove(name);
        self.apps.remove(name);
        self.entrypoints.remove(name);
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
        if matches!(value, Expr::Call(call) if self.strands.builds_agent(&call.func)) {
            self.agents.insert(name, line);
        } else if let Expr::Call(call) = value
            && let Expr::Name(callee) = &*call.func
            && callee.id.as_str() == "Agent"
            && let Some(from) = self.imported.get("Agent")
        {
            self.foreign_agents
                .insert(name, (from.module.clone(), line));
        } else if let Some(framework) = app_constructor(value) {
            self.apps.insert(name, (framework, line));
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

/// What `module` (the file `file`, whose source is `source`) defines at top level.
pub(crate) fn top_level(module: &ModModule, source: &str, file: &Path) -> TopLevel {
    let mut found = TopLevel {
        strands: StrandsNames::of(module, file),
        ..TopLevel::default()
    };
    for stmt in module_statements(&module.body) {
        match stmt {
            Stmt::FunctionDef(def) => {
                let mut signature = MainSignature::of(
                    &def.parameters,
                    def.is_async,
                    &def.body,
                    line_col(source, def.start().to_usize()).0,
                );
                if let Some(decorated) = command_line_decorator(&def.decorator_list) {
                    signature.command_line = Some(decorated);
                }
                signature.is_tool = is_tool_decorator(&def.decorator_list);
                let name = def.name.to_string();
                found.unbind(&name);
                if let Some(app) = entrypoint_decorator(&def.decorator_list, &found.apps) {
                    found.entrypoints.insert(name.clone(), app);
                }
                found.functions.insert(name, signature);
            }
            Stmt::Expr(expression) => {
                if let Expr::Call(call) = &*expression.value
                    && starts_a_server(&call.func, &found.apps)
                {
                    found
                        .serves_at_import
                        .push(line_col(source, expression.start().to_usize()).0);
                }
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
                        && found.strands.builds_agent(&call.func)
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

/// Whether `file` defines at module level (in `try`, `if` and `with` blocks too) something the
/// handler could call: a `main`, a Lambda-style handler or a Strands Agent. A file that does not
/// read or parse offers nothing.
pub(crate) fn offers_an_entry(file: &Path) -> bool {
    let Ok(source) = std::fs::read_to_string(file) else {
        return false;
    };
    let Ok(parsed) = ruff_python_parser::parse_module(&source) else {
        return false;
    };
    let found = top_level(&parsed.into_syntax(), &source, file);
    found.functions.contains_key("main")
        || HANDLER_NAMES
            .iter()
            .any(|name| found.functions.contains_key(*name))
        || !found.agents.is_empty()
}

/// How many `from x import y` hops an entry is followed through the agent's own modules.
pub(crate) const IMPORT_HOPS: usize = 4;

/// An entry candidate (`main`, a handler name, `--entry`) that the entry file imports rather than
/// defines (`from helpers import main`): read from the agent's own module when it ships one,
/// else (an installed package) called as Python would and its parameters read at cold start.
pub(crate) fn resolve_imported_entries(
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

pub(crate) enum Definition {
    Function(MainSignature),
    Agent,
}

/// What `imported` names in the agent's own module, if it is one (None: not the agent's own,
/// or not found there).
pub(crate) fn imported_definition(
    imported: &ImportedName,
    importer: &Path,
    runtime: Runtime,
    hops: usize,
) -> Result<Option<Definition>> {
    let Some(file) = module_file(importer, imported.level, &imported.module) else {
        return Ok(None);
    };
    let display = file.display().to_string();
    let source = files::read_user_text(&file)
        .map_err(|e| Error::agent(&display, format!("cannot read: {e}")))?;
    let module = parse_module(&display, &source, runtime)?;
    let mut theirs = top_level(&module, &source, &file);
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

/// `FastAPI(...)`, `Starlette(...)`, `BedrockAgentCoreApp(...)` (or `module.Name(...)`).
fn app_constructor(value: &Expr) -> Option<AppFramework> {
    let Expr::Call(call) = value else {
        return None;
    };
    let name = match &*call.func {
        Expr::Name(name) => name.id.as_str(),
        Expr::Attribute(attr) => attr.attr.as_str(),
        _ => return None,
    };
    match name {
        "BedrockAgentCoreApp" => Some(AppFramework::AgentCore),
        "FastAPI" | "Starlette" => Some(AppFramework::Asgi),
        "A2AServer" => Some(AppFramework::A2a),
        _ => None,
    }
}

/// `@APP.entrypoint` where APP is a module-level `BedrockAgentCoreApp`: the app's name.
fn entrypoint_decorator(
    decorators: &[ast::Decorator],
    apps: &BTreeMap<String, (AppFramework, usize)>,
) -> Option<String> {
    decorators
        .iter()
        .find_map(|decorator| match &decorator.expression {
            Expr::Attribute(attr) if attr.attr.as_str() == "entrypoint" => match &*attr.value {
                Expr::Name(app)
                    if matches!(
                        apps.get(app.id.as_str()),
                        Some((AppFramework::AgentCore, _))
                    ) =>
                {
                    Some(app.id.to_string())
                }
                _ => None,
            },
            _ => None,
        })
}

/// `APP.run(...)` for a module-level app, or `uvicorn.run(...)`.
fn starts_a_server(func: &Expr, apps: &BTreeMap<String, (AppFramework, usize)>) -> bool {
    let Expr::Attribute(attr) = func else {
        return false;
    };
    matches!(attr.attr.as_str(), "run" | "serve")
        && matches!(&*attr.value, Expr::Name(owner)
            if apps.contains_key(owner.id.as_str()) || owner.id.as_str() == "uvicorn")
}

/// Lambda-style handlers the agent may define itself (called with the raw event).
pub(crate) const HANDLER_NAMES: [&str; 2] = ["handler", "lambda_handler"];

/// The entry point, in reference §5's order: `--entry`, `main`, a Lambda-style handler, the one
/// module-level Agent; each rule with its own error and hint.
pub(crate) fn find_entry(
    found: &TopLevel,
    display: &str,
    requested: Option<&str>,
) -> Result<(Entry, MainSignature)> {
    let candidates = Candidates { found, display };
    match requested {
        Some(name) => candidates.named(name),
        None => candidates.in_reference_order(),
    }
}

/// What the module offers as an entry, and how each kind becomes one.
struct Candidates<'a> {
    found: &'a TopLevel,
    display: &'a str,
}

type Found = Result<(Entry, MainSignature)>;

fn no_signature(line: usize) -> MainSignature {
    MainSignature {
        line,
        ..MainSignature::default()
    }
}

impl Candidates<'_> {
    /// `--entry NAME`: whatever NAME is, or an error listing what there is.
    fn named(&self, name: &str) -> Found {
        let found = self.found;
        if let Some(app) = found.entrypoints.get(name) {
            return self.entrypoint(name, app);
        }
        if let Some(&(framework, line)) = found.apps.get(name) {
            return Ok(app_entry(name, framework, line));
        }
        if let Some(signature) = found.functions.get(name) {
            return self.function(name, signature);
        }
        if let Some(&line) = found.agents.get(name) {
            return Ok(agent(name, line));
        }
        Err(Error::Agent {
            location: self.display.to_string(),
            message: format!(
                "--entry `{name}` is neither a top-level function nor a top-level `Agent(...)` variable (nor a web app: FastAPI, Starlette, BedrockAgentCoreApp)"
            ),
            hint: Some(entry_candidates_hint(found)),
        })
    }

    /// No `--entry`: an `@app.entrypoint`, `main`, a Lambda-style handler, the one web app, the
    /// one Agent.
    fn in_reference_order(&self) -> Found {
        let found = self.found;
        // AgentCore registers the last decorated function; so does this.
        if let Some((name, app)) = found
            .entrypoints
            .iter()
            .max_by_key(|(name, _)| found.functions.get(*name).map(|s| s.line))
        {
            return self.entrypoint(name, app);
        }
        if let Some(signature) = found.functions.get("main") {
            if let Some(problem) = signature.deaf_to_input("main") {
                return Err(self.main_refused(problem, signature.line));
            }
            return self.function("main", signature);
        }
        for name in HANDLER_NAMES {
            if let Some(signature) = found.functions.get(name) {
                return self.function(name, signature);
            }
        }
        // A FastAPI / Starlette app, else an A2A server, is what callers talk to; an Agent beside
        // it is what it calls.
        for framework in [AppFramework::Asgi, AppFramework::A2a] {
            let apps: Vec<(&String, usize)> = found
                .apps
                .iter()
                .filter(|(_, (built_by, _))| *built_by == framework)
                .map(|(name, (_, line))| (name, *line))
                .collect();
            if let [(name, line)] = apps.as_slice() {
                return Ok(app_entry(name, framework, *line));
            }
        }
        self.the_one_agent_or_app()
    }

    fn the_one_agent_or_app(&self) -> Found {
        let found = self.found;
        let display = self.display;
        match found.agents.len() {
            1 => {
                let (name, &line) = found
                    .agents
                    .iter()
                    .next()
                    .ok_or_else(|| Error::internal("one agent expected"))?;
                Ok(agent(name, line))
            }
            0 if found.apps.len() == 1 => {
                let (name, &(_, line)) = found
                    .apps
                    .iter()
                    .next()
                    .ok_or_else(|| Error::internal("one app expected"))?;
                Ok(asgi_app(name, line))
            }
            0 if found.apps.len() > 1 => Err(Error::Agent {
                location: display.to_string(),
                message: format!(
                    "several module-level apps and no entry: {}",
                    found.apps.keys().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
                hint: Some("choose the one to serve with --entry NAME".into()),
            }),
            0 => Err(Error::Agent {
                location: display.to_string(),
                message: "nothing to call: no top-level `main`, `handler(event, context)`, `lambda_handler(event, context)`, `@app.entrypoint`, module-level `Agent(...)` or web app".into(),
                hint: Some(match (self.the_tool(), found.foreign_agents.iter().next()) {
                    (_, Some((name, (module, line)))) => format!("`{name}` (line {line}) is an `Agent` of `{module}`, not Strands': agentdeploy calls Strands agents; wrap yours in `def main(user_input_arg=None, input_data_arg=None)` returning its answer"),
                    (tool, None) => match tool {
                    Some(tool) => format!("`{tool}` is a `@tool` (line {}): deploy it as the entry with --entry {tool}, or define `def main(user_input_arg=None, input_data_arg=None)`", found.functions[tool].line),
                    None => "define `def main(user_input_arg=None, input_data_arg=None)` or a module-level `agent = Agent(...)`; the handler calls it".into(),
                    },
                }),
            }),
            _ => Err(self.several_agents()),
        }
    }

    /// `main` cannot receive the input: the entry to use instead is the module's Agent (or the
    /// function that calls it), unless `--entry main` insists.
    fn main_refused(&self, problem: String, line: usize) -> Error {
        let instead = match self.found.agents.keys().next() {
            Some(agent) if self.found.agents.len() == 1 => {
                format!("deploy the module's Agent with --entry {agent}")
            }
            _ => {
                "name the function that takes the input with --entry NAME (or write `def main(user_input_arg=None, input_data_arg=None)`)".to_string()
            }
        };
        Error::Agent {
            location: format!("{}:{line}", self.display),
            message: problem,
            hint: Some(format!("{instead}; --entry main deploys it as it is")),
        }
    }

    /// The first top-level `@tool` function that takes an argument (a tool module's tool).
    fn the_tool(&self) -> Option<&str> {
        let mut tools: Vec<(&String, &MainSignature)> = self
            .found
            .functions
            .iter()
            .filter(|(_, s)| s.is_tool && (!s.positional.is_empty() || s.has_varargs))
            .collect();
        tools.sort_by_key(|(_, s)| s.line);
        tools.first().map(|(name, _)| name.as_str())
    }

    /// The top-level function that calls the most of the module's Agents (the author's
    /// orchestrator), when one takes an argument.
    fn orchestrator(&self) -> Option<&str> {
        self.found
            .functions
            .iter()
            .filter(|(_, s)| !s.positional.is_empty() && s.deaf_to_input("").is_none())
            .map(|(name, s)| {
                let agents = s
                    .calls
                    .iter()
                    .filter(|c| self.found.agents.contains_key(*c))
                    .count();
                (name, agents, s.line)
            })
            .filter(|(_, agents, _)| *agents > 0)
            .max_by_key(|(_, agents, line)| (*agents, std::cmp::Reverse(*line)))
            .map(|(name, _, _)| name.as_str())
    }

    fn several_agents(&self) -> Error {
        let mut agents: Vec<(&String, &usize)> = self.found.agents.iter().collect();
        agents.sort_by_key(|(_, line)| **line);
        let listed: Vec<String> = agents
            .iter()
            .map(|(name, line)| format!("`{name}` (line {line})"))
            .collect();
        Error::Agent {
            location: self.display.to_string(),
            message: format!(
                "several module-level Agents and no `main`: {}",
                listed.join(", ")
            ),
            hint: Some(match self.orchestrator() {
                Some(function) => format!(
                    "`{function}` calls them: deploy it as the entry with --entry {function} (or `entry = \"{function}\"` in the config)"
                ),
                None => format!(
                    "choose the one callers talk to with --entry NAME (or `entry = \"NAME\"` in the config), e.g. --entry {}",
                    agents
                        .first()
                        .map(|(name, _)| name.as_str())
                        .unwrap_or("NAME")
                ),
            }),
        }
    }

    /// A top-level function: `main`-style, or a Lambda-style handler by its name.
    fn function(&self, name: &str, signature: &MainSignature) -> Found {
        let kind = if HANDLER_NAMES.contains(&name) {
            EntryKind::Handler
        } else {
            EntryKind::Main
        };
        if let Some(problem) = signature.uncallable(name, kind) {
            return Err(Error::Agent {
                location: format!("{}:{}", self.display, signature.line),
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
    }

    /// An `@app.entrypoint`: AgentCore calls it with (payload) or (payload, context).
    fn entrypoint(&self, name: &str, app: &str) -> Found {
        let signature = self.found.functions.get(name).cloned().unwrap_or_default();
        if signature.required_positional > 2 || !signature.required_keyword_only.is_empty() {
            return Err(Error::Agent {
                location: format!("{}:{}", self.display, signature.line),
                message: format!(
                    "`{name}` is `@{app}.entrypoint`, which AgentCore calls with (payload) or (payload, context), but it needs other arguments"
                ),
                hint: Some(format!("define it as `def {name}(payload, context)`")),
            });
        }
        Ok((
            Entry {
                kind: EntryKind::Entrypoint,
                name: name.to_string(),
                line: signature.line,
            },
            signature,
        ))
    }
}

/// A module-level app as the entry: an A2A server as such, any other app as ASGI.
fn app_entry(name: &str, framework: AppFramework, line: usize) -> (Entry, MainSignature) {
    match framework {
        AppFramework::A2a => (
            Entry {
                kind: EntryKind::A2a,
                name: name.to_string(),
                line,
            },
            no_signature(line),
        ),
        _ => asgi_app(name, line),
    }
}

fn asgi_app(name: &str, line: usize) -> (Entry, MainSignature) {
    (
        Entry {
            kind: EntryKind::Asgi,
            name: name.to_string(),
            line,
        },
        no_signature(line),
    )
}

fn agent(name: &str, line: usize) -> (Entry, MainSignature) {
    (
        Entry {
            kind: EntryKind::Agent,
            name: name.to_string(),
            line,
        },
        no_signature(line),
    )
}

pub(crate) fn entry_candidates_hint(found: &TopLevel) -> String {
    let mut names: Vec<String> = found.functions.keys().map(|n| format!("{n}()")).collect();
    names.extend(found.agents.keys().map(|n| format!("{n} (Agent)")));
    names.extend(found.apps.keys().map(|n| format!("{n} (app)")));
    if names.is_empty() {
        "the file defines no top-level function or Agent".into()
    } else {
        format!("top-level candidates: {}", names.join(", "))
    }
}
