//! What CPython's compiler refuses although the parser accepts it (reference §5): `return`, `yield`
//! or `await` outside a function, `await` or an async comprehension outside an async function,
//! `break`/`continue` outside a loop, a late `from __future__`, duplicate parameters, `nonlocal`
//! at module level or with no binding, a name used before its `global`, writing `__debug__`,
//! `return` with a value in an async generator, `*a = ...`, and a coding cookie that does not
//! match the UTF-8 the file is. Without these checks such code plans and deploys, and the
//! function fails on every call with a SyntaxError at import.
//!
//! The checks are ruff's `SemanticSyntaxChecker`; this module supplies the scopes it asks about.
//! Only the kinds listed in `refused` are reported. Where the scope model is coarser than
//! CPython's it errs lenient: a scope's bindings are over-counted, so valid code is never refused.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, PythonVersion, Stmt};
use ruff_python_parser::semantic_errors::{
    SemanticSyntaxChecker, SemanticSyntaxContext, SemanticSyntaxError, SemanticSyntaxErrorKind,
};
use ruff_text_size::TextRange;

#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Module,
    Class,
    Function { is_async: bool },
    Lambda,
    Comprehension { is_generator: bool, is_async: bool },
}

/// One scope the walk is in.
struct Frame {
    scope: Scope,
    /// Loops open in this scope (for `break`/`continue`).
    loops: usize,
    parameters: Vec<String>,
    /// `global NAME` statements of this scope's own body, by name.
    globals: HashMap<String, TextRange>,
    /// Every name this scope's body may bind (over-counted: a name wrongly counted here only
    /// makes the `nonlocal` check lenient, never refuses valid code).
    bound: HashSet<String>,
}

impl Frame {
    fn new(scope: Scope, parameters: Vec<String>, body: &[Stmt]) -> Frame {
        let mut names = ScopeNames::default();
        names.visit_body(body);
        Frame {
            scope,
            loops: 0,
            parameters,
            globals: names.globals,
            bound: names.bound,
        }
    }
}

struct Context<'s> {
    source: &'s str,
    version: PythonVersion,
    /// Innermost last.
    scopes: Vec<Frame>,
    errors: RefCell<Vec<SemanticSyntaxError>>,
}

impl Context<'_> {
    fn innermost(&self) -> Scope {
        self.scopes.last().map(|s| s.scope).unwrap_or(Scope::Module)
    }

    /// The nearest function, lambda, class or module frame (comprehensions are looked through).
    fn enclosing_frame(&self) -> Option<&Frame> {
        self.scopes
            .iter()
            .rev()
            .find(|s| !matches!(s.scope, Scope::Comprehension { .. }))
    }

    /// The nearest function, lambda, class or module (comprehensions are looked through).
    fn enclosing_non_comprehension(&self) -> Scope {
        self.enclosing_frame()
            .map(|f| f.scope)
            .unwrap_or(Scope::Module)
    }
}

/// The `global` statements and the bindings of one scope's body, not looking into the bodies of
/// the functions and classes it defines (their names are bound here, their insides are theirs).
#[derive(Default)]
struct ScopeNames {
    globals: HashMap<String, TextRange>,
    bound: HashSet<String>,
}

impl<'a> Visitor<'a> for ScopeNames {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(function) => {
                self.bound.insert(function.name.to_string());
                for decorator in &function.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
            }
            Stmt::ClassDef(class) => {
                self.bound.insert(class.name.to_string());
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    self.globals
                        .entry(name.to_string())
                        .or_insert_with(|| global.range);
                }
            }
            Stmt::Nonlocal(nonlocal) => {
                // Resolved further out; counting it keeps an inner `nonlocal` of it lenient.
                self.bound
                    .extend(nonlocal.names.iter().map(|n| n.to_string()));
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let name = alias.asname.as_ref().unwrap_or(&alias.name);
                    let first = name.as_str().split('.').next().unwrap_or_default();
                    self.bound.insert(first.to_string());
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    let name = alias.asname.as_ref().unwrap_or(&alias.name);
                    self.bound.insert(name.to_string());
                }
            }
            Stmt::Try(try_stmt) => {
                for handler in &try_stmt.handlers {
                    let ast::ExceptHandler::ExceptHandler(handler) = handler;
                    if let Some(name) = &handler.name {
                        self.bound.insert(name.to_string());
                    }
                }
                visitor::walk_stmt(self, stmt);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Name(name) = expr
            && !matches!(name.ctx, ast::ExprContext::Load)
        {
            self.bound.insert(name.id.to_string());
        }
        // Lambdas are not looked into (their parameters are theirs); the rest is.
        if !matches!(expr, Expr::Lambda(_)) {
            visitor::walk_expr(self, expr);
        }
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        match pattern {
            ast::Pattern::MatchAs(ast::PatternMatchAs {
                name: Some(name), ..
            })
            | ast::Pattern::MatchStar(ast::PatternMatchStar {
                name: Some(name), ..
            }) => {
                self.bound.insert(name.to_string());
            }
            ast::Pattern::MatchMapping(ast::PatternMatchMapping {
                rest: Some(name), ..
            }) => {
                self.bound.insert(name.to_string());
            }
            _ => {}
        }
        visitor::walk_pattern(self, pattern);
    }
}

impl SemanticSyntaxContext for Context<'_> {
    fn future_annotations_or_stub(&self) -> bool {
        false
    }

    fn lazy_import_context(
        &self,
    ) -> Option<ruff_python_parser::semantic_errors::LazyImportContext> {
        None
    }

    fn python_version(&self) -> PythonVersion {
        self.version
    }

    fn source(&self) -> &str {
        self.source
    }

    fn global(&self, name: &str) -> Option<TextRange> {
        self.enclosing_frame()?.globals.get(name).copied()
    }

    /// A binding of `name` in an enclosing function (the innermost frame is the function that
    /// declares it; classes and the module do not count, as in CPython).
    fn has_nonlocal_binding(&self, name: &str) -> bool {
        let Some((_, outer)) = self.scopes.split_last() else {
            return true;
        };
        outer.iter().rev().any(|frame| match frame.scope {
            Scope::Function { .. } | Scope::Lambda => {
                frame.bound.contains(name) || frame.parameters.iter().any(|p| p == name)
            }
            // A comprehension's walrus binds in the function around it, which is counted there.
            Scope::Comprehension { .. } | Scope::Class | Scope::Module => false,
        })
    }

    fn in_async_context(&self) -> bool {
        matches!(
            self.enclosing_non_comprehension(),
            Scope::Function { is_async: true }
        )
    }

    fn in_await_allowed_context(&self) -> bool {
        matches!(
            self.enclosing_non_comprehension(),
            Scope::Function { .. } | Scope::Lambda
        )
    }

    fn in_yield_allowed_context(&self) -> bool {
        matches!(self.innermost(), Scope::Function { .. } | Scope::Lambda)
    }

    fn in_sync_comprehension(&self) -> bool {
        self.scopes.iter().any(|s| {
            matches!(
                s.scope,
                Scope::Comprehension {
                    is_async: false,
                    is_generator: false
                }
            )
        })
    }

    fn in_class_body_comprehension(&self) -> bool {
        self.enclosing_non_comprehension() == Scope::Class
    }

    fn in_module_scope(&self) -> bool {
        self.innermost() == Scope::Module
    }

    fn in_function_scope(&self) -> bool {
        matches!(self.innermost(), Scope::Function { .. } | Scope::Lambda)
    }

    fn in_generator_context(&self) -> bool {
        matches!(
            self.innermost(),
            Scope::Comprehension {
                is_generator: true,
                ..
            }
        )
    }

    fn in_notebook(&self) -> bool {
        false
    }

    fn report_semantic_error(&self, error: SemanticSyntaxError) {
        self.errors.borrow_mut().push(error);
    }

    fn in_loop_context(&self) -> bool {
        self.scopes.last().is_some_and(|s| s.loops > 0)
    }

    fn is_bound_parameter(&self, name: &str) -> bool {
        self.scopes
            .last()
            .is_some_and(|s| s.parameters.iter().any(|p| p == name))
    }
}

struct Walker<'s> {
    checker: SemanticSyntaxChecker,
    context: Context<'s>,
}

impl Walker<'_> {
    fn in_scope(&mut self, frame: Frame, body: impl FnOnce(&mut Self)) {
        self.context.scopes.push(frame);
        body(self);
        self.context.scopes.pop();
    }

    fn in_loop(&mut self, body: impl FnOnce(&mut Self)) {
        if let Some(scope) = self.context.scopes.last_mut() {
            scope.loops += 1;
        }
        body(self);
        if let Some(scope) = self.context.scopes.last_mut() {
            scope.loops -= 1;
        }
    }

    fn visit_parameter_defaults(&mut self, parameters: &ast::Parameters) {
        for parameter in parameters.iter() {
            if let Some(default) = parameter.default() {
                self.visit_expr(default);
            }
            if let Some(annotation) = parameter.annotation() {
                self.visit_expr(annotation);
            }
        }
    }

    fn comprehension(
        &mut self,
        generators: &[ast::Comprehension],
        is_generator: bool,
        elements: &[&Expr],
    ) {
        // The first iterable is evaluated in the enclosing scope; the rest inside.
        if let Some(first) = generators.first() {
            self.visit_expr(&first.iter);
        }
        let is_async = generators.iter().any(|g| g.is_async);
        self.in_scope(
            Frame::new(
                Scope::Comprehension {
                    is_generator,
                    is_async,
                },
                Vec::new(),
                &[],
            ),
            |walker| {
                for (index, generator) in generators.iter().enumerate() {
                    walker.visit_expr(&generator.target);
                    if index > 0 {
                        walker.visit_expr(&generator.iter);
                    }
                    for condition in &generator.ifs {
                        walker.visit_expr(condition);
                    }
                }
                for element in elements {
                    walker.visit_expr(element);
                }
            },
        );
    }
}

impl<'a> Visitor<'a> for Walker<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        self.checker.visit_stmt(stmt, &self.context);
        match stmt {
            Stmt::FunctionDef(function) => {
                for decorator in &function.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                self.visit_parameter_defaults(&function.parameters);
                if let Some(returns) = &function.returns {
                    self.visit_expr(returns);
                }
                let names = function
                    .parameters
                    .iter()
                    .map(|p| p.name().to_string())
                    .collect();
                self.in_scope(
                    Frame::new(
                        Scope::Function {
                            is_async: function.is_async,
                        },
                        names,
                        &function.body,
                    ),
                    |walker| walker.visit_body(&function.body),
                );
            }
            Stmt::ClassDef(class) => {
                for decorator in &class.decorator_list {
                    self.visit_expr(&decorator.expression);
                }
                if let Some(arguments) = &class.arguments {
                    self.visit_arguments(arguments);
                }
                self.in_scope(
                    Frame::new(Scope::Class, Vec::new(), &class.body),
                    |walker| walker.visit_body(&class.body),
                );
            }
            Stmt::For(for_loop) => {
                self.visit_expr(&for_loop.target);
                self.visit_expr(&for_loop.iter);
                self.in_loop(|walker| walker.visit_body(&for_loop.body));
                self.visit_body(&for_loop.orelse);
            }
            Stmt::While(while_loop) => {
                self.visit_expr(&while_loop.test);
                self.in_loop(|walker| walker.visit_body(&while_loop.body));
                self.visit_body(&while_loop.orelse);
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.checker.visit_expr(expr, &self.context);
        match expr {
            Expr::Lambda(lambda) => {
                let names = match &lambda.parameters {
                    Some(parameters) => {
                        self.visit_parameter_defaults(parameters);
                        parameters.iter().map(|p| p.name().to_string()).collect()
                    }
                    None => Vec::new(),
                };
                self.in_scope(Frame::new(Scope::Lambda, names, &[]), |walker| {
                    walker.visit_expr(&lambda.body)
                });
            }
            Expr::ListComp(comp) => self.comprehension(&comp.generators, false, &[&comp.elt]),
            Expr::SetComp(comp) => self.comprehension(&comp.generators, false, &[&comp.elt]),
            Expr::Generator(comp) => self.comprehension(&comp.generators, true, &[&comp.elt]),
            Expr::DictComp(comp) => {
                let mut elements: Vec<&Expr> = comp.key.iter().map(|k| &**k).collect();
                elements.push(&comp.value);
                self.comprehension(&comp.generators, false, &elements)
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

/// Whether CPython refuses this kind at compile time in every context the checks here model.
fn refused(kind: &SemanticSyntaxErrorKind) -> bool {
    use SemanticSyntaxErrorKind as K;
    matches!(
        kind,
        K::ReturnOutsideFunction
            | K::YieldOutsideFunction(_)
            | K::BreakOutsideLoop
            | K::ContinueOutsideLoop
            | K::LateFutureImport
            | K::FutureFeatureNotDefined(_)
            | K::DuplicateParameter(_)
            | K::DuplicateKeywordArgument(_)
            | K::NonlocalDeclarationAtModuleLevel
            | K::SingleStarredAssignment
            | K::MultipleStarredExpressions
            | K::NonModuleImportStar(_)
            | K::YieldFromInAsyncFunction
            | K::WriteToDebug(_)
            | K::ReturnInGenerator
            | K::AwaitOutsideAsyncFunction(_)
            | K::LoadBeforeGlobalDeclaration { .. }
            | K::NonlocalWithoutBinding(_)
    )
}

/// The first compile-time error in the module: its offset and CPython's way of saying it.
pub fn first_compile_error(
    module: &ast::ModModule,
    source: &str,
    version: PythonVersion,
) -> Option<(usize, String)> {
    let mut walker = Walker {
        checker: SemanticSyntaxChecker::new(),
        context: Context {
            source,
            version,
            scopes: vec![Frame::new(Scope::Module, Vec::new(), &module.body)],
            errors: RefCell::new(Vec::new()),
        },
    };
    walker.visit_body(&module.body);
    let errors = walker.context.errors.into_inner();
    errors
        .into_iter()
        .filter(|e| refused(&e.kind))
        .min_by_key(|e| e.range.start())
        .map(|e| (e.range.start().to_usize(), e.to_string()))
}

/// A PEP 263 coding cookie on line 1 or 2 that disagrees with the UTF-8 the file is (or names
/// no codec Python knows): its line and the problem.
pub fn coding_cookie_problem(source: &str) -> Option<(usize, String)> {
    for (index, line) in source.lines().take(2).enumerate() {
        let text = line.trim_start_matches('\u{feff}').trim_start();
        if !text.starts_with('#') {
            if index == 0 && !text.is_empty() {
                // A cookie counts only on line 2 when line 1 is a comment or blank.
                return None;
            }
            continue;
        }
        let Some(at) = text
            .find("coding")
            .filter(|&at| matches!(text[at + 6..].chars().next(), Some(':' | '=')))
        else {
            continue;
        };
        let name: String = text[at + 7..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let normalized = name.to_ascii_lowercase().replace('_', "-");
        let utf8 = matches!(normalized.as_str(), "utf-8" | "utf8" | "utf-8-sig" | "u8");
        let ascii_compatible = [
            "ascii",
            "us-ascii",
            "latin-1",
            "latin1",
            "iso-8859-1",
            "iso8859-1",
            "l1",
            "cp1252",
            "windows-1252",
            "iso-8859-15",
            "iso8859-15",
        ]
        .contains(&normalized.as_str());
        if utf8 {
            return None;
        }
        if !ascii_compatible {
            return Some((
                index + 1,
                format!(
                    "the coding cookie names `{name}`, an encoding agentdeploy cannot check this UTF-8 file against"
                ),
            ));
        }
        if source.starts_with('\u{feff}') || !source.is_ascii() {
            return Some((
                index + 1,
                format!(
                    "the coding cookie says `{name}` but the file is UTF-8 with non-ASCII text: Python would decode it differently (or refuse it)"
                ),
            ));
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(source: &str) -> Option<(usize, String)> {
        let parsed = ruff_python_parser::parse_module(source).expect("parses");
        first_compile_error(
            parsed.syntax(),
            source,
            PythonVersion {
                major: 3,
                minor: 13,
            },
        )
    }

    #[test]
    fn what_cpython_refuses_is_found() {
        for (source, expected) in [
            ("return 1\n", "`return` statement outside of a function"),
            ("yield 1\n", "yield"),
            ("await x\n", "await"),
            ("break\n", "`break` outside loop"),
            (
                "for x in y:\n    pass\nelse:\n    continue\n",
                "`continue` outside loop",
            ),
            (
                "import os\nfrom __future__ import annotations\n",
                "__future__",
            ),
            ("def f(a, a):\n    pass\n", "Duplicate parameter"),
            ("nonlocal x\n", "nonlocal"),
            ("*a = [1]\n", "starred"),
            (
                "class C:\n    return 1\n",
                "`return` statement outside of a function",
            ),
            ("def f():\n    class C:\n        yield 1\n", "yield"),
            (
                "def f():\n    x = 1\n    global x\n",
                "prior to global declaration",
            ),
            ("x = 1\nglobal x\n", "prior to global declaration"),
            (
                "def f():\n    def g():\n        nonlocal y\n",
                "no binding for nonlocal",
            ),
            // A class's names are not visible to nonlocal, as in CPython.
            (
                "def f():\n    class C:\n        y = 1\n        def g():\n            nonlocal y\n",
                "no binding for nonlocal",
            ),
            ("__debug__ = 1\n", "__debug__"),
            ("xs = [x async for x in y]\n", "asynchronous comprehension"),
            ("def f():\n    await g()\n", "`await` outside"),
            (
                "async def f():\n    yield 1\n    return 2\n",
                "async generator",
            ),
        ] {
            let found = first_error(source);
            assert!(
                found
                    .as_ref()
                    .is_some_and(|(_, m)| m.to_lowercase().contains(&expected.to_lowercase())),
                "{source:?}: {found:?}"
            );
        }
    }

    #[test]
    fn valid_code_passes() {
        for source in [
            "def f():\n    return 1\n",
            "def g():\n    yield 1\n    x = lambda: (yield)\n",
            "async def h():\n    await x\n    [await y for y in z]\n    async for a in b:\n        break\n",
            "for x in y:\n    for z in x:\n        continue\n    break\n",
            "while True:\n    def inner():\n        return 1\n    break\n",
            "from __future__ import annotations\n\"\"\"doc after\"\"\"\n",
            "\"\"\"doc\"\"\"\nfrom __future__ import annotations\nimport os\n",
            "def outer():\n    x = 1\n    def inner():\n        nonlocal x\n        x = 2\n",
            "*a, b = [1, 2]\n",
            "def f(*args, **kwargs):\n    return g(*args, **kwargs)\n",
            "class C:\n    x = [i for i in range(3)]\n    def m(self):\n        return self\n",
            "def gen():\n    return (i for i in range(3))\n",
            "def f():\n    global x\n    x = 1\n    print(x)\n",
            "def f():\n    x = 1\n    def g():\n        global x\n        x = 2\n",
            "def f(a):\n    def g():\n        nonlocal a\n        a = 2\n",
            "def f():\n    for i in range(3):\n        pass\n    def g():\n        nonlocal i\n",
            "def f():\n    import os.path\n    def g():\n        nonlocal os\n",
            "def f():\n    try:\n        pass\n    except E as err:\n        pass\n    def g():\n        nonlocal err\n",
            "def f():\n    match v:\n        case [a, *rest]:\n            pass\n    def g():\n        nonlocal rest\n",
            "def f():\n    x = 1\n    def g():\n        nonlocal x\n        def h():\n            nonlocal x\n",
            "def f():\n    [y := 1 for _ in range(2)]\n    def g():\n        nonlocal y\n",
            "def f():\n    def helper():\n        pass\n    def g():\n        nonlocal helper\n",
            "async def f():\n    yield 1\n    return\n",
            "async def f():\n    def inner():\n        return 2\n    yield inner()\n",
            "def f():\n    return (await x for x in y)\n",
            "def f():\n    return (x async for x in y)\n",
            "async def f():\n    return [x async for x in y]\n",
        ] {
            assert_eq!(first_error(source), None, "{source:?}");
        }
    }

    #[test]
    fn coding_cookies() {
        assert_eq!(
            coding_cookie_problem("# -*- coding: utf-8 -*-\nx = 'é'\n"),
            None
        );
        assert_eq!(
            coding_cookie_problem("#!/usr/bin/env python\n# coding=latin-1\nx = 1\n"),
            None
        );
        assert!(coding_cookie_problem("# coding: latin-1\nx = 'é'\n").is_some());
        assert!(coding_cookie_problem("# vim: set fileencoding=klingon :\nx = 1\n").is_some());
        assert_eq!(coding_cookie_problem("x = 1\n# coding: klingon\n"), None);
        assert_eq!(
            coding_cookie_problem("# just a comment about coding style\n"),
            None
        );
    }
}
