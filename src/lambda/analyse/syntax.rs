//! Small readings of a parsed module that several analyses share.

use std::path::{Path, PathBuf};

use ruff_python_ast::{CmpOp, ExceptHandler, Expr, ModModule, Stmt};

/// The module-level statements importing the module runs, in an order where the usual path's
/// binding of a name comes last (so it wins): the bodies of top-level `try` blocks (their
/// `except` branches first, then the body, `else` and `finally`), of `if` blocks (the `else` and
/// `elif` branches first, then the `if` branch) and of `with` blocks, with what they nest. An
/// `if __name__ == "__main__":` block runs only as a script, never on import: it is left out.
pub fn module_statements(body: &[Stmt]) -> Vec<&Stmt> {
    let mut found = Vec::new();
    for stmt in body {
        match stmt {
            Stmt::If(block) if is_main_guard(&block.test) => {}
            Stmt::If(block) => {
                for clause in block.elif_else_clauses.iter().rev() {
                    found.extend(module_statements(&clause.body));
                }
                found.extend(module_statements(&block.body));
            }
            Stmt::Try(block) => {
                for handler in &block.handlers {
                    let ExceptHandler::ExceptHandler(handler) = handler;
                    found.extend(module_statements(&handler.body));
                }
                found.extend(module_statements(&block.body));
                found.extend(module_statements(&block.orelse));
                found.extend(module_statements(&block.finalbody));
            }
            Stmt::With(block) => found.extend(module_statements(&block.body)),
            other => found.push(other),
        }
    }
    found
}

/// `__name__ == "__main__"` (either way round).
fn is_main_guard(test: &Expr) -> bool {
    let Expr::Compare(compare) = test else {
        return false;
    };
    let [CmpOp::Eq] = &*compare.ops else {
        return false;
    };
    let [right] = &*compare.comparators else {
        return false;
    };
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| matches!(e, Expr::StringLiteral(s) if s.value.to_str() == "__main__");
    (is_name(&compare.left) && is_main(right)) || (is_main(&compare.left) && is_name(right))
}

/// Every module-level `NAME = value` (and `NAME: T = value`) in order: the statement, the name
/// bound, the value.
pub fn module_assignments(module: &ModModule) -> Vec<(&Stmt, &str, &Expr)> {
    let mut found = Vec::new();
    for stmt in module_statements(&module.body) {
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

/// The agent's own file that `from <dots><module> import ...` in `importer` names: `module.py`
/// or `module/__init__.py`, relative to the importer's folder (each dot past the first one level
/// up); `None` when it is not one of the agent's files.
pub fn module_file(importer: &Path, level: u32, module: &str) -> Option<PathBuf> {
    let mut dir = importer.parent().unwrap_or(Path::new(".")).to_path_buf();
    for _ in 1..level {
        dir = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    }
    let base = module
        .split('.')
        .filter(|part| !part.is_empty())
        .fold(dir, |path, part| path.join(part));
    [base.with_extension("py"), base.join("__init__.py")]
        .into_iter()
        .find(|file| file.is_file())
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
