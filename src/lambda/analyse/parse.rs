//! Parsing one file of the agent's code, refused where CPython's own tokenizer and compiler would
//! refuse it, each limit with its location and hint.

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions};
use ruff_text_size::Ranged;

use crate::error::{Error, Result};
use crate::lambda::analyse::compile_checks;
use crate::lambda::analyse::syntax::line_col;
use crate::lambda::runtime::Runtime;

/// Deepest statement/expression nesting CPython 3.13 compiles; past it, compile() raises
/// RecursionError (measured: `x = 1` then 9,995 `+ 1` terms compile, 9,996 do not).
pub(crate) const MAX_COMPILABLE_DEPTH: usize = 9_997;

/// Brackets CPython's tokenizer allows open at once ("too many nested parentheses" past it).
pub(crate) const MAX_BRACKET_NESTING: usize = 200;

/// Indentation levels CPython's tokenizer allows ("too many levels of indentation" at 100).
pub(crate) const MAX_INDENT_LEVELS: usize = 99;

/// F-strings CPython 3.12+ allows nested in one another ("too many nested f-strings" at 150).
pub(crate) const MAX_FSTRING_NESTING: usize = 149;

/// The first of CPython's tokenizer limits the code passes: brackets open at once, indentation
/// levels, nested f-strings. The offset, the message and the hint.
pub(crate) fn tokenizer_limit(
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

/// Parses one file of the agent's code; syntax errors name that file's line and column.
/// Every way CPython would refuse the file, in the order it would (syntax, version, bracket
/// nesting, depth, compile checks), each with its own location and hint: one list, one place.
pub(crate) fn parse_module(display: &str, source: &str, runtime: Runtime) -> Result<ModModule> {
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
pub(crate) struct DepthProbe {
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
