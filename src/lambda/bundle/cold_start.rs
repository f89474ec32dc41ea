//! The expected INIT cost of a cold start (reference §5 "Cold start"), shown by the plan and `status`
//! as a class with its estimate. Importing Python modules is most of a cold start, and it is
//! CPU-bound: Lambda gives a function CPU in proportion to its memory (one full vCPU at 1,769 MB),
//! so the same import takes ~3.5x longer at 512 MB. The figures are measured
//! (`bench/coldstart.sh`, bench/RESULTS.md): strands-agents with strands-agents-tools loads
//! ~1,130 modules from the artifact, 0.58 s of CPU with their bytecode, 2.3–2.7 s without.

/// CPU seconds per module imported from the artifact, with and without its bytecode.
const CPU_PER_MODULE_COMPILED: f64 = 0.58 / 1130.0;
const CPU_PER_MODULE_FROM_SOURCE: f64 = 2.5 / 1130.0;
/// The interpreter's own start and Lambda's runtime bootstrap, in CPU seconds.
const RUNTIME_START_CPU: f64 = 0.15;
/// Memory at which a function gets one full vCPU (an import uses one).
const FULL_VCPU_MB: f64 = 1769.0;
/// Lambda ends INIT after 10 s and runs it again inside the first request's time.
const INIT_LIMIT_SECONDS: f64 = 10.0;
/// Modules a strands-agents agent imports from its artifact (measured, above).
const STRANDS_MODULES: u64 = 1130;
/// A rough count for any other distribution, when nothing better is known.
const MODULES_PER_DISTRIBUTION: u64 = 40;

use crate::build_report::{ColdStart, InitClass};

/// What the estimate knows about the artifact.
pub struct Imports {
    /// Modules imported from the artifact at a cold start.
    pub modules: u64,
    /// Whether they ship with bytecode.
    pub bytecode: bool,
    /// Where the module count comes from, for the basis.
    pub source: String,
}

impl Imports {
    /// Before a build: from the requirements, with bytecode when this machine can compile it.
    pub fn expected(specifiers: &[String], bytecode: bool) -> Imports {
        let names: Vec<String> = specifiers
            .iter()
            .map(|s| crate::lambda::analyse::requirements::distribution_name(s))
            .collect();
        let (modules, source) = if names.is_empty() {
            (0, "no dependencies".to_string())
        } else if names.iter().any(|n| n == "strands-agents") {
            (STRANDS_MODULES, "typical of strands-agents".to_string())
        } else {
            (
                MODULES_PER_DISTRIBUTION * names.len() as u64,
                format!("rough, {} distributions", names.len()),
            )
        };
        Imports {
            modules,
            bytecode,
            source,
        }
    }

    /// After a build: what the build-time import loaded (`build.bytecode`).
    pub fn built(bytecode: &crate::build_report::Bytecode) -> Imports {
        Imports {
            modules: bytecode.modules,
            bytecode: bytecode.method != "none",
            source: format!("{} modules compiled at build", bytecode.modules),
        }
    }
}

pub fn estimate(imports: &Imports, memory_mb: u32, snapstart: bool) -> ColdStart {
    let share = (f64::from(memory_mb) / FULL_VCPU_MB).min(1.0);
    let per_module = if imports.bytecode {
        CPU_PER_MODULE_COMPILED
    } else {
        CPU_PER_MODULE_FROM_SOURCE
    };
    let cpu = RUNTIME_START_CPU + per_module * imports.modules as f64;
    let init_seconds = cpu / share;
    let bytecode = if imports.bytecode {
        "bytecode shipped"
    } else {
        "no bytecode: every import compiles"
    };
    if snapstart {
        // INIT runs once at publish; a cold start restores the snapshot instead.
        return ColdStart {
            class: InitClass::Fast,
            init_seconds,
            basis: format!(
                "SnapStart restores a snapshot; INIT of ~{init_seconds:.1} s runs at publish; {memory_mb} MB"
            ),
        };
    }
    let class = match init_seconds {
        s if s < 1.0 => InitClass::Fast,
        s if s < 3.0 => InitClass::Moderate,
        s if s < INIT_LIMIT_SECONDS => InitClass::Slow,
        _ => InitClass::OverLimit,
    };
    ColdStart {
        class,
        init_seconds: (init_seconds * 10.0).round() / 10.0,
        basis: format!(
            "{} modules, {}, {bytecode}, {memory_mb} MB",
            imports.modules, imports.source
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strands(bytecode: bool) -> Imports {
        Imports::expected(
            &["strands-agents>=1.0".into(), "strands-agents-tools".into()],
            bytecode,
        )
    }

    #[test]
    fn bytecode_and_memory_decide_the_class() {
        // The measurement: ~7 s more INIT at 512 MB without bytecode.
        let with = estimate(&strands(true), 512, false);
        let without = estimate(&strands(false), 512, false);
        assert_eq!(with.class, InitClass::Moderate, "{with:?}");
        assert_eq!(without.class, InitClass::Slow, "{without:?}");
        assert!(without.init_seconds - with.init_seconds > 5.0);
        assert_eq!(estimate(&strands(true), 3008, false).class, InitClass::Fast);
        assert_eq!(
            estimate(&strands(false), 128, false).class,
            InitClass::OverLimit
        );
        assert!(
            without.describe().contains("no bytecode"),
            "{}",
            without.describe()
        );
    }

    #[test]
    fn snapstart_restores_instead() {
        let cold = estimate(&strands(false), 512, true);
        assert_eq!(cold.class, InitClass::Fast);
        assert!(cold.basis.contains("SnapStart"));
    }

    #[test]
    fn small_agents_are_fast_and_the_basis_says_how_it_was_guessed() {
        let six = Imports::expected(&["six==1.16.0".into()], true);
        let cold = estimate(&six, 512, false);
        assert_eq!(cold.class, InitClass::Fast);
        assert!(
            cold.basis.contains("rough, 1 distributions"),
            "{}",
            cold.basis
        );
        let built = Imports::built(&crate::build_report::Bytecode {
            modules: 1129,
            bytes: 22_000_000,
            method: "import".into(),
            isolation: "sandbox".into(),
        });
        assert!(
            estimate(&built, 1024, false)
                .basis
                .contains("1129 modules compiled at build")
        );
    }
}
