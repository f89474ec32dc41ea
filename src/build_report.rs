//! What a build of a deployment produced, as the report, the record and `status` show it: how
//! its dependencies were resolved, the bytecode it ships, the cold start to expect. Plain data,
//! target-neutral; a target fills it in.

use serde::{Deserialize, Serialize};

/// Who resolved a set this run (reported as `build.resolved_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResolvedBy {
    /// An earlier run: the cached pins.
    Cache,
    /// The native `sam build` of the requirements as given; pins read from what it installed.
    SamBuild,
    /// uv's install for the platform (the cross-platform path); pins read from what it installed.
    Uv,
    /// pip's resolution for the Lambda platform.
    Pip,
}

/// What was compiled, for the report (`build.bytecode`) and the dependency cache's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytecode {
    pub modules: u64,
    pub bytes: u64,
    /// `import` (what the handler's import loaded), `reachable` (the agent's imported packages,
    /// after the import failed or without it) or `none` (no interpreter for the runtime here).
    pub method: String,
    /// How the agent's code was run at build time: `sandbox`, `container` (sam's build image
    /// with no network), `not run: <why>`, or `none` when nothing was compiled.
    #[serde(default)]
    pub isolation: String,
}

impl Bytecode {
    pub fn none() -> Bytecode {
        Bytecode {
            modules: 0,
            bytes: 0,
            method: "none".into(),
            isolation: "none".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitClass {
    /// Under 1 s.
    Fast,
    /// 1–3 s.
    Moderate,
    /// 3–10 s: noticeable to every caller who meets a cold start.
    Slow,
    /// 10 s or more: over Lambda's INIT limit, the first request pays it again.
    OverLimit,
}

impl InitClass {
    pub fn as_str(self) -> &'static str {
        match self {
            InitClass::Fast => "fast",
            InitClass::Moderate => "moderate",
            InitClass::Slow => "slow",
            InitClass::OverLimit => "over-limit",
        }
    }
}

/// The expected cold start, and what the estimate rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    pub class: InitClass,
    /// Expected INIT seconds at the function's memory.
    pub init_seconds: f64,
    pub basis: String,
}

impl ColdStart {
    /// One line for the text report.
    pub fn describe(&self) -> String {
        format!(
            "{}: ~{:.1} s INIT ({})",
            self.class.as_str(),
            self.init_seconds,
            self.basis
        )
    }
}

/// Sizes in the unit Lambda's limit is stated in (MiB, as 250 MiB = 262,144,000 bytes).
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
