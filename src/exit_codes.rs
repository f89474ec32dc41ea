//! The one place where an error becomes an exit code and a `kind` (reference §8).

use crate::error::Error;

pub const OK: i32 = 0;
pub const OTHER: i32 = 1;
pub const USAGE: i32 = 2;
pub const PREFLIGHT: i32 = 3;
pub const BUILD: i32 = 4;
pub const DEPLOY: i32 = 5;
pub const VERIFY: i32 = 6;
pub const INTERRUPTED: i32 = 130;

pub fn exit_code(err: &Error) -> i32 {
    match err {
        Error::Usage { .. } | Error::Config { .. } | Error::Agent { .. } => USAGE,
        Error::Preflight { .. } => PREFLIGHT,
        Error::Build { .. } => BUILD,
        Error::Deploy { .. } => DEPLOY,
        Error::Verify { .. } => VERIFY,
        Error::Interrupted => INTERRUPTED,
        Error::State { .. }
        | Error::FunctionError { .. }
        | Error::Io { .. }
        | Error::Internal { .. } => OTHER,
    }
}

/// Stable machine-readable name of the failure, for `error.kind` in JSON output.
pub fn kind(err: &Error) -> &'static str {
    match err {
        Error::Usage { .. } => "usage",
        Error::Config { .. } => "config",
        Error::Agent { .. } => "agent",
        Error::Preflight { .. } => "preflight",
        Error::Build { .. } => "build",
        Error::Deploy { .. } => "deploy",
        Error::Verify { .. } => "verify",
        Error::State { .. } => "state",
        Error::FunctionError { .. } => "function",
        Error::Interrupted => "interrupted",
        Error::Io { .. } | Error::Internal { .. } => "internal",
    }
}

/// `err.exit_code()` and `err.kind()`, where the mapping lives (error.rs knows nothing of codes).
pub trait Classified {
    /// The process exit code for this failure.
    fn exit_code(&self) -> i32;
    /// The stable `error.kind` for JSON output.
    fn kind(&self) -> &'static str;
}

impl Classified for Error {
    fn exit_code(&self) -> i32 {
        exit_code(self)
    }

    fn kind(&self) -> &'static str {
        kind(self)
    }
}

/// A fleet exits with the worst code among its members: any failure beats success, and among
/// failures the specific codes (2..6) beat the generic 1.
pub fn worst(codes: impl IntoIterator<Item = i32>) -> i32 {
    codes.into_iter().fold(OK, |acc, code| {
        let rank = |c: i32| match c {
            OK => 0,
            OTHER => 1,
            c => c,
        };
        if rank(code) > rank(acc) { code } else { acc }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_family_has_its_spec_exit_code() {
        assert_eq!(exit_code(&Error::usage("--memory", "bad")), 2);
        assert_eq!(
            exit_code(&Error::Preflight {
                message: String::new(),
                hint: String::new()
            }),
            3
        );
        assert_eq!(
            exit_code(&Error::Build {
                message: String::new(),
                hint: String::new()
            }),
            4
        );
        assert_eq!(
            exit_code(&Error::Deploy {
                message: String::new(),
                hint: String::new()
            }),
            5
        );
        assert_eq!(
            exit_code(&Error::Verify {
                message: String::new(),
                hint: String::new()
            }),
            6
        );
        assert_eq!(exit_code(&Error::internal("x")), 1);
    }

    #[test]
    fn worst_prefers_specific_failures() {
        assert_eq!(worst([0, 0]), 0);
        assert_eq!(worst([0, 1]), 1);
        assert_eq!(worst([1, 4, 0]), 4);
        assert_eq!(worst([5, 1]), 5);
    }
}
