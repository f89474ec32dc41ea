//! Small readings of a parsed module that several analyses share.

use ruff_python_ast::{Expr, ModModule, Stmt};

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
