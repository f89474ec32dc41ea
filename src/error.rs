//! Typed domain errors. Every failure the tool reports is one of these; the exit code and the
//! `kind` string for JSON output are decided in `exit_codes`, nowhere else.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or flag combination is wrong (reference §3).
    #[error("{flag}: {message}")]
    Usage {
        flag: String,
        message: String,
        hint: Option<String>,
    },

    /// The config file could not be read or is invalid (reference §4).
    #[error("{location}: {message}")]
    Config {
        location: String,
        message: String,
        hint: Option<String>,
    },

    /// The agent code is unusable: syntax error, no `main`, unreadable file (reference §5).
    #[error("{location}: {message}")]
    Agent {
        location: String,
        message: String,
        hint: Option<String>,
    },

    /// A required tool, credential, region or interpreter is missing (exit 3).
    #[error("{message}")]
    Preflight { message: String, hint: String },

    /// Dependency resolution or `sam build` failed, or the artifact is too large (exit 4).
    #[error("{message}")]
    Build { message: String, hint: String },

    /// `sam deploy` or the stack failed (exit 5).
    #[error("{message}")]
    Deploy { message: String, hint: String },

    /// The stack deployed but the function is not healthy or its outputs are missing (exit 6).
    #[error("{message}")]
    Verify { message: String, hint: String },

    /// The deployment record is corrupt, locked or from a newer version.
    #[error("{path}: {message}")]
    State {
        path: PathBuf,
        message: String,
        hint: String,
    },

    /// The function answered with an error (`invoke`); `output` is what it answered, for the
    /// one JSON document `-o json` prints.
    #[error("{message}")]
    FunctionError {
        message: String,
        output: Option<serde_json::Value>,
    },

    /// Stopped by SIGINT/SIGTERM.
    #[error("interrupted")]
    Interrupted,

    /// An I/O failure on a file the tool itself reads or writes; the OS error stays its source.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Anything else (rendering, a task that stopped).
    #[error("{message}")]
    Internal { message: String },
}

impl Error {
    pub fn usage(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Usage {
            flag: flag.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn usage_hint(
        flag: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::Usage {
            flag: flag.into(),
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn agent(location: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Agent {
            location: location.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// An I/O failure on a file the tool itself writes or reads.
    pub fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source: err,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. } | Error::Config { hint, .. } | Error::Agent { hint, .. } => {
                hint.as_deref()
            }
            Error::Preflight { hint, .. }
            | Error::Build { hint, .. }
            | Error::Deploy { hint, .. }
            | Error::Verify { hint, .. }
            | Error::State { hint, .. } => Some(hint.as_str()),
            Error::Interrupted => {
                Some("the deployment record is marked `interrupted`; run the command again")
            }
            Error::FunctionError { .. } | Error::Io { .. } | Error::Internal { .. } => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;

    #[test]
    fn an_io_failure_keeps_the_os_error_as_its_source() {
        let err = Error::io(
            std::path::Path::new("/p/state.json"),
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        assert_eq!(err.to_string(), "/p/state.json: denied");
        let source = std::error::Error::source(&err).expect("a source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.kind(), "internal");
    }
}
