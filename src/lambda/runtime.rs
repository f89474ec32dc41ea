//! The Lambda Python runtimes agentdeploy deploys to: a value every room uses (settings, tool
//! discovery, the build), so it lives in none of them.

use serde::Serialize;

/// A Lambda Python runtime, `python3.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Runtime {
    pub minor: u8,
}

impl Runtime {
    pub const SUPPORTED: [Runtime; 3] = [
        Runtime { minor: 14 },
        Runtime { minor: 13 },
        Runtime { minor: 12 },
    ];
    pub const DEPRECATED: [Runtime; 2] = [Runtime { minor: 11 }, Runtime { minor: 10 }];
    pub const FALLBACK: Runtime = Runtime { minor: 13 };

    pub fn name(self) -> String {
        format!("python3.{}", self.minor)
    }

    /// `3.13`, as pip's `--python-version` wants it.
    pub fn version(self) -> String {
        format!("3.{}", self.minor)
    }

    /// The interpreter `sam build` looks for on PATH.
    pub fn interpreter(self) -> String {
        self.name()
    }

    /// python3.12 and newer run on Amazon Linux 2023 (glibc 2.34); older ones on Amazon Linux 2.
    pub fn on_amazon_linux_2023(self) -> bool {
        self.minor >= 12
    }

    pub fn parse(text: &str) -> Option<Runtime> {
        let minor = text.strip_prefix("python3.")?.parse::<u8>().ok()?;
        Some(Runtime { minor })
    }

    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    pub fn is_deprecated(self) -> bool {
        Self::DEPRECATED.contains(&self)
    }
}
