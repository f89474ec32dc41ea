//! Lambda's cost model: a month of requests, compute, cold starts (or SnapStart's cache and
//! restores) and API Gateway requests, from one overridable price table (`cost`, and the cost
//! lines of `metrics`).

use serde::Serialize;

use crate::cli::CostArgs;
use crate::error::{Error, Result};
use crate::lambda::kinds::Architecture;
use crate::options::AgentSection;
use crate::output::CommandResult;
use crate::prices::Prices;
use crate::target::{CostEstimate, Measured};

/// Cold starts: their share of invocations and what each costs.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ColdStarts {
    pub share: f64,
    /// INIT seconds per cold start (without SnapStart).
    pub init_duration_s: f64,
    pub snapstart: bool,
}

/// Seconds a SnapStart snapshot stays cached in a 30-day month (the active version's).
const MONTH_SECONDS: f64 = 30.0 * 86_400.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub memory_mb: u32,
    pub duration_s: f64,
    pub invocations: u64,
    pub cold_starts: ColdStarts,
    /// Billed INIT GB-seconds (none with SnapStart).
    pub init_gb_seconds: f64,
    pub init_usd: f64,
    pub snapstart_cache_usd: f64,
    pub snapstart_restore_usd: f64,
    pub architecture: String,
    pub api_gateway: bool,
    pub gb_seconds: f64,
    pub lambda_requests_usd: f64,
    pub lambda_compute_usd: f64,
    pub lambda_usd: f64,
    pub api_gateway_usd: f64,
    pub total_usd: f64,
    /// On Lambda Managed Instances: no GB-seconds or INIT billed; the capacity provider's EC2
    /// instances (and Lambda's management fee on them) are billed instead, not estimated here.
    pub managed_instances: bool,
    pub prices: Prices,
}

impl Estimate {
    /// The estimate for a function on managed instances: Lambda bills its requests only.
    pub fn on_managed_instances(mut self) -> Self {
        self.managed_instances = true;
        self.lambda_compute_usd = 0.0;
        self.init_gb_seconds = 0.0;
        self.init_usd = 0.0;
        self.lambda_usd =
            self.lambda_requests_usd + self.snapstart_cache_usd + self.snapstart_restore_usd;
        self.total_usd = self.lambda_usd + self.api_gateway_usd;
        self
    }
}

pub fn estimate(
    memory_mb: u32,
    duration_s: f64,
    invocations: u64,
    architecture: Architecture,
    api_gateway: bool,
    cold_starts: ColdStarts,
    prices: Prices,
) -> Estimate {
    let gb = f64::from(memory_mb) / 1024.0;
    let gb_seconds = gb * duration_s * invocations as f64;
    let cold = invocations as f64 * cold_starts.share;
    let per_gb_second = match architecture {
        Architecture::X86_64 => prices.lambda_gb_second_x86_64,
        Architecture::Arm64 => prices.lambda_gb_second_arm64,
    };
    let lambda_requests_usd = invocations as f64 / 1e6 * prices.lambda_request_per_million;
    let lambda_compute_usd = gb_seconds * per_gb_second;
    let (init_gb_seconds, snapstart_cache_usd, snapstart_restore_usd) = if cold_starts.snapstart {
        (
            0.0,
            gb * MONTH_SECONDS * prices.snapstart_cache_gb_second,
            cold * gb * prices.snapstart_restore_gb,
        )
    } else {
        (cold * cold_starts.init_duration_s * gb, 0.0, 0.0)
    };
    let init_usd = init_gb_seconds * per_gb_second;
    let lambda_usd = lambda_requests_usd
        + lambda_compute_usd
        + init_usd
        + snapstart_cache_usd
        + snapstart_restore_usd;
    let api_gateway_usd = if api_gateway {
        invocations as f64 / 1e6 * prices.api_gateway_rest_per_million
    } else {
        0.0
    };
    Estimate {
        memory_mb,
        duration_s,
        invocations,
        cold_starts,
        init_gb_seconds,
        init_usd,
        snapstart_cache_usd,
        snapstart_restore_usd,
        architecture: architecture.as_str().to_string(),
        api_gateway,
        gb_seconds,
        lambda_requests_usd,
        lambda_compute_usd,
        lambda_usd,
        api_gateway_usd,
        total_usd: lambda_usd + api_gateway_usd,
        managed_instances: false,
        prices,
    }
}

/// A cold start's INIT when neither the flag nor a measurement says (strands-agents and its
/// dependencies imported on 512 MB).
pub const DEFAULT_INIT_SECONDS: f64 = 2.5;

/// `--init-duration`, checked (`None`: not given).
pub fn init_duration(args: &CostArgs) -> Result<Option<f64>> {
    match args.init_duration {
        Some(seconds) if !(0.0..=10.0).contains(&seconds) => Err(Error::usage(
            "--init-duration",
            format!("{seconds} s is out of range; Lambda stops an INIT at 10 s"),
        )),
        given => Ok(given),
    }
}

/// `--api-gateway on|off`: whether API Gateway requests may be counted at all (`on` counts them
/// where the agent has an API).
pub fn api_gateway_counted(args: &CostArgs) -> Result<bool> {
    match args.api_gateway.as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(Error::usage(
            "--api-gateway",
            format!("`{other}` is not one of: on, off"),
        )),
    }
}

impl CommandResult for Estimate {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "{} invocations/month x {:.2} s at {} MB ({}): {:.0} GB-s",
                self.invocations,
                self.duration_s,
                self.memory_mb,
                self.architecture,
                self.gb_seconds
            ),
            format!(
                "  Lambda       ${:.4}  (requests ${:.4} + compute ${:.4} + cold starts ${:.4})",
                self.lambda_usd,
                self.lambda_requests_usd,
                self.lambda_compute_usd,
                self.init_usd + self.snapstart_cache_usd + self.snapstart_restore_usd
            ),
        ];
        let share = self.cold_starts.share * 100.0;
        lines.push(if self.managed_instances {
            "  compute      the capacity provider's EC2 instances plus Lambda's management fee, billed by the instance hour: not in this estimate".to_string()
        } else if self.cold_starts.snapstart {
            format!(
                "  cold starts  {share:.0} % restored by SnapStart: snapshot cache ${:.4} + restores ${:.4}",
                self.snapstart_cache_usd, self.snapstart_restore_usd
            )
        } else {
            format!(
                "  cold starts  {share:.0} % x {:.1} s INIT billed: {:.0} GB-s, ${:.4}",
                self.cold_starts.init_duration_s, self.init_gb_seconds, self.init_usd
            )
        });
        if self.api_gateway {
            lines.push(format!(
                "  API Gateway  ${:.4}  (REST API)",
                self.api_gateway_usd
            ));
        }
        lines.push(format!(
            "  total        ${:.2} per month (before the free tier)",
            self.total_usd
        ));
        lines
    }
}

/// `cost`: the estimate from the flags, else the agent's config section, else the defaults.
pub fn estimate_cost(args: &CostArgs, section: &AgentSection) -> Result<CostEstimate> {
    let memory = args
        .memory
        .or(section.memory)
        .unwrap_or(crate::lambda::settings::DEFAULT_MEMORY);
    crate::lambda::settings::validate_memory(memory)?;
    if !(args.duration > 0.0 && args.duration <= 900.0) {
        return Err(Error::usage(
            "--duration",
            "the mean duration must be above 0 and at most 900 seconds",
        ));
    }
    if !(0.0..=1.0).contains(&args.cold_start_share) {
        return Err(Error::usage(
            "--cold-start-share",
            format!("{} is not a share between 0 and 1", args.cold_start_share),
        ));
    }
    let cold_starts = ColdStarts {
        share: args.cold_start_share,
        init_duration_s: init_duration(args)?.unwrap_or(DEFAULT_INIT_SECONDS),
        snapstart: args.snapstart || section.snapstart == Some(true),
    };
    let architecture = billed_as(
        args.architecture
            .as_deref()
            .or(section.architecture.as_deref()),
    );
    let api_gateway =
        api_gateway_counted(args)? && section.endpoint.as_deref().is_none_or(|e| e == "api");
    let prices = Prices::load(args.prices.as_deref())?;
    let estimate = estimate(
        memory,
        args.duration,
        args.invocations,
        architecture,
        api_gateway,
        cold_starts,
        prices,
    );
    Ok(if section.managed_instances.is_some() {
        estimate.on_managed_instances()
    } else {
        estimate
    }
    .into())
}

/// `cost --from-metrics`: a month at the measured rate (`invocations`: the window's requests
/// scaled to a month; `api`: the deployment has an API Gateway API).
pub fn estimate_measured_cost(
    args: &CostArgs,
    measured: &Measured,
    invocations: u64,
    api: bool,
    prices: Prices,
) -> Result<CostEstimate> {
    let api_gateway = api_gateway_counted(args)? && api;
    let architecture = billed_as(measured.architecture.as_deref());
    let memory = args
        .memory
        .or(measured.memory_mb)
        .unwrap_or(crate::lambda::settings::DEFAULT_MEMORY);
    let cold_start_share = if measured.requests == 0 {
        0.0
    } else {
        measured.cold_starts as f64 / measured.requests as f64
    };
    Ok(estimate(
        memory,
        measured.duration_ms.mean.unwrap_or(0.0) / 1000.0,
        invocations,
        architecture,
        api_gateway,
        ColdStarts {
            share: cold_start_share,
            // The flag, else what the cold starts measured, else the usual import.
            init_duration_s: init_duration(args)?
                .or(measured.init_duration_ms.map(|ms| ms / 1000.0))
                .unwrap_or(DEFAULT_INIT_SECONDS),
            snapstart: args.snapstart,
        },
        prices,
    )
    .into())
}

/// The architecture a function named by `name` (a flag, a config value, what Lambda reports) is
/// billed as: arm64 only when it says so, as Lambda's default is x86_64.
fn billed_as(name: Option<&str>) -> Architecture {
    match name {
        Some("arm64") => Architecture::Arm64,
        _ => Architecture::X86_64,
    }
}

/// What the measured requests cost in Lambda requests and compute (no cold starts, no API).
pub fn measured_compute_cost(measured: &Measured, prices: &Prices) -> CostEstimate {
    let no_cold_starts = ColdStarts {
        share: 0.0,
        init_duration_s: 0.0,
        snapstart: false,
    };
    let architecture = billed_as(measured.architecture.as_deref());
    estimate(
        measured
            .memory_mb
            .unwrap_or(crate::lambda::settings::DEFAULT_MEMORY),
        measured.duration_ms.mean.unwrap_or(0.0) / 1000.0,
        measured.requests,
        architecture,
        false,
        no_cold_starts,
        *prices,
    )
    .into()
}

impl From<Estimate> for CostEstimate {
    fn from(estimate: Estimate) -> Self {
        CostEstimate {
            lines: estimate.text_lines(),
            requests_usd: estimate.lambda_requests_usd,
            compute_usd: estimate.lambda_compute_usd,
            total_usd: estimate.total_usd,
            document: serde_json::to_value(&estimate).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;
    use std::path::Path;

    const NO_COLD_STARTS: ColdStarts = ColdStarts {
        share: 0.0,
        init_duration_s: 0.0,
        snapstart: false,
    };

    #[test]
    fn a_price_that_is_not_a_number_of_dollars_is_refused_and_so_is_an_endless_file() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key) in [
            (
                "lambda_request_per_million = nan\n",
                "lambda_request_per_million",
            ),
            ("lambda_gb_second_arm64 = inf\n", "lambda_gb_second_arm64"),
            (
                "api_gateway_rest_per_million = -3.5\n",
                "api_gateway_rest_per_million",
            ),
        ] {
            let path = dir.path().join("prices.toml");
            std::fs::write(&path, text).unwrap();
            let err = Prices::load(Some(&path)).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
            assert!(err.to_string().contains("is not a price"), "{err}");
        }
        let err = Prices::load(Some(Path::new("/dev/zero"))).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn managed_instances_bill_requests_only_here() {
        let prices = Prices::load(None).unwrap();
        let est = estimate(
            2048,
            2.0,
            1_000_000,
            Architecture::X86_64,
            false,
            ColdStarts {
                share: 0.1,
                init_duration_s: 2.5,
                snapstart: false,
            },
            prices,
        )
        .on_managed_instances();
        assert_eq!(est.lambda_compute_usd, 0.0);
        assert_eq!(est.init_usd, 0.0);
        assert!((est.total_usd - prices.lambda_request_per_million).abs() < 1e-9);
        assert!(
            est.text_lines()
                .iter()
                .any(|l| l.contains("EC2 instances") && l.contains("not in this estimate"))
        );
    }

    #[test]
    fn cold_starts_bill_their_init_time_or_snapstart_its_cache_and_restores() {
        let prices = Prices::load(None).unwrap();
        let cold = ColdStarts {
            share: 0.1,
            init_duration_s: 2.5,
            snapstart: false,
        };
        // 10,000 calls, 1,000 cold, 2.5 s INIT each at 0.5 GB: 1,250 GB-s.
        let e = estimate(512, 2.0, 10_000, Architecture::X86_64, false, cold, prices);
        assert!(
            (e.init_gb_seconds - 1250.0).abs() < 1e-9,
            "{}",
            e.init_gb_seconds
        );
        assert!((e.init_usd - 1250.0 * prices.lambda_gb_second_x86_64).abs() < 1e-12);
        let without = estimate(
            512,
            2.0,
            10_000,
            Architecture::X86_64,
            false,
            NO_COLD_STARTS,
            prices,
        );
        assert!((e.total_usd - without.total_usd - e.init_usd).abs() < 1e-12);

        let snap = estimate(
            512,
            2.0,
            10_000,
            Architecture::X86_64,
            false,
            ColdStarts {
                snapstart: true,
                ..cold
            },
            prices,
        );
        assert_eq!(snap.init_gb_seconds, 0.0);
        assert!(
            (snap.snapstart_restore_usd - 1000.0 * 0.5 * prices.snapstart_restore_gb).abs() < 1e-12
        );
        assert!(
            (snap.snapstart_cache_usd - 0.5 * 2_592_000.0 * prices.snapstart_cache_gb_second).abs()
                < 1e-9
        );
    }

    #[test]
    fn the_worked_example() {
        let e = estimate(
            512,
            2.0,
            10_000,
            Architecture::X86_64,
            true,
            NO_COLD_STARTS,
            Prices::load(None).unwrap(),
        );
        assert!((e.gb_seconds - 10_000.0).abs() < 1e-9);
        assert!((e.lambda_usd - 0.1687).abs() < 0.001, "{}", e.lambda_usd);
        assert!((e.api_gateway_usd - 0.035).abs() < 1e-9);
        assert_eq!(format!("{:.2}", e.lambda_usd), "0.17");
    }

    #[test]
    fn arm64_is_about_20_percent_cheaper_per_gb_second() {
        let prices = Prices::load(None).unwrap();
        let x86 = estimate(
            1024,
            1.0,
            1_000_000,
            Architecture::X86_64,
            false,
            NO_COLD_STARTS,
            prices,
        );
        let arm = estimate(
            1024,
            1.0,
            1_000_000,
            Architecture::Arm64,
            false,
            NO_COLD_STARTS,
            prices,
        );
        let ratio = arm.lambda_compute_usd / x86.lambda_compute_usd;
        assert!((ratio - 0.8).abs() < 0.001, "{ratio}");
        assert_eq!(arm.api_gateway_usd, 0.0);
    }

    #[test]
    fn a_price_file_overrides_some_prices() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prices.toml");
        std::fs::write(&path, "api_gateway_rest_per_million = 1.0\n").unwrap();
        let prices = Prices::load(Some(&path)).unwrap();
        assert_eq!(prices.api_gateway_rest_per_million, 1.0);
        assert_eq!(prices.lambda_request_per_million, 0.20);
        std::fs::write(&path, "lambda_gb_secnd_arm64 = 1.0\n").unwrap();
        assert!(Prices::load(Some(&path)).is_err());
    }

    #[test]
    fn measured_requests_are_priced_at_their_memory_and_architecture() {
        let measured = Measured {
            requests: 10,
            duration_ms: crate::target::Durations {
                mean: Some(2000.0),
                ..Default::default()
            },
            memory_mb: Some(1024),
            architecture: Some("arm64".into()),
            ..Default::default()
        };
        let prices = Prices::load(None).unwrap();
        let cost = measured_compute_cost(&measured, &prices);
        // 10 requests x 2 s x 1 GB at arm64's price, plus the requests.
        let compute = 10.0 * 2.0 * prices.lambda_gb_second_arm64;
        assert!((cost.compute_usd - compute).abs() < 1e-12);
        let requests = 10.0 / 1e6 * prices.lambda_request_per_million;
        assert!((cost.total_usd - compute - requests).abs() < 1e-12);
    }
}
