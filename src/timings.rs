//! Where a deploy's time went: in `sam`, in pip, waiting on AWS, zipping the artifact, and the
//! rest, which is agentdeploy's own work. Each deploy runs in its own scope (a fleet runs several
//! at once), and the places that wait record into the scope of the task that waits.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The `sam` CLI (build, deploy, version check).
    Sam,
    /// pip: resolution, cross-platform installs, source-only wheels.
    Pip,
    /// AWS API calls, their retries, and readiness waits.
    Aws,
    /// Zipping the deployment artifact (the work `sam deploy` would otherwise do).
    Zip,
}

#[derive(Debug, Default)]
pub struct Timings {
    sam_us: AtomicU64,
    pip_us: AtomicU64,
    aws_us: AtomicU64,
    zip_us: AtomicU64,
}

/// A deploy's wall time split by where it went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Breakdown {
    pub sam: u64,
    pub pip: u64,
    pub aws: u64,
    pub zip: u64,
    /// Everything else: analysis, rendering, hashing, the record, progress.
    pub agentdeploy: u64,
}

impl Timings {
    fn slot(&self, category: Category) -> &AtomicU64 {
        match category {
            Category::Sam => &self.sam_us,
            Category::Pip => &self.pip_us,
            Category::Aws => &self.aws_us,
            Category::Zip => &self.zip_us,
        }
    }

    pub fn add(&self, category: Category, elapsed: Duration) {
        self.slot(category)
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn breakdown(&self, total: Duration) -> Breakdown {
        let ms = |c| self.slot(c).load(Ordering::Relaxed) / 1000;
        let (sam, pip, aws, zip) = (
            ms(Category::Sam),
            ms(Category::Pip),
            ms(Category::Aws),
            ms(Category::Zip),
        );
        let total = total.as_millis() as u64;
        Breakdown {
            sam,
            pip,
            aws,
            zip,
            agentdeploy: total.saturating_sub(sam + pip + aws + zip),
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Timings>;
}

/// Runs `future` with `timings` collecting what it waits on.
pub async fn scope<F: Future>(timings: Arc<Timings>, future: F) -> F::Output {
    CURRENT.scope(timings, future).await
}

/// Adds `elapsed` to the current deploy's category; outside a deploy it is dropped.
pub fn record(category: Category, elapsed: Duration) {
    let _ = CURRENT.try_with(|t| t.add(category, elapsed));
}

/// Awaits `future`, counting its time under `category`.
pub async fn timed<F: Future>(category: Category, future: F) -> F::Output {
    let started = Instant::now();
    let output = future.await;
    record(category, started.elapsed());
    output
}

/// Counts every AWS operation, retries and backoff included, as AWS time.
#[derive(Debug)]
pub struct AwsTimer;

#[derive(Debug, Clone)]
struct OperationStarted(Instant);

impl Storable for OperationStarted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for AwsTimer {
    fn name(&self) -> &'static str {
        "agentdeploy-aws-timer"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(OperationStarted(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(OperationStarted(started)) = cfg.load::<OperationStarted>() {
            record(Category::Aws, started.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_scope_counts_only_its_own_waits() {
        let first = Arc::new(Timings::default());
        let second = Arc::new(Timings::default());
        let a = scope(first.clone(), async {
            record(Category::Sam, Duration::from_millis(1500));
            record(Category::Aws, Duration::from_millis(200));
        });
        let b = scope(second.clone(), async {
            record(Category::Pip, Duration::from_millis(700));
        });
        tokio::join!(a, b);
        record(Category::Sam, Duration::from_secs(9)); // outside any deploy: dropped
        assert_eq!(
            first.breakdown(Duration::from_millis(2000)),
            Breakdown {
                sam: 1500,
                pip: 0,
                aws: 200,
                zip: 0,
                agentdeploy: 300
            }
        );
        assert_eq!(second.breakdown(Duration::from_millis(1000)).pip, 700);
        assert_eq!(second.breakdown(Duration::from_millis(1000)).sam, 0);
    }
}
