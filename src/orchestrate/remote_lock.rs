//! The cross-machine lock around everything that changes a deployment (reference §7 "Locks"):
//! a deploy waits for it up to `--lock-timeout`; `rollback` and `destroy` never wait (a deploy
//! under way is about to move `live` itself) and are refused while another machine holds it.

use std::time::{Duration, Instant};

use crate::aws::AwsContext;
use crate::aws::s3_lock::{self, Attempt, HeldLock};
use crate::error::{Error, Result};
use crate::target::Target;

/// What taking the lock gave: the lock (`None`: there is nowhere to keep one yet), and a
/// warning worth reporting (no bucket yet, a stopped run's lock taken over).
pub struct Locked {
    pub lock: Option<HeldLock>,
    pub warning: Option<String>,
}

impl Locked {
    /// The artifact bucket the lock is kept in, when there is one.
    pub fn bucket(&self) -> Option<&str> {
        self.lock.as_ref().map(HeldLock::bucket)
    }

    pub async fn release(self) {
        if let Some(lock) = self.lock {
            lock.release().await;
        }
    }
}

/// Takes the deployment's lock, waiting up to `wait`; `waiting` hears who it waits for.
pub async fn acquire<T: Target>(
    target: &T,
    aws: &AwsContext,
    function_name: &str,
    stack_name: &str,
    bucket: Option<&str>,
    wait: Duration,
    waiting: &(dyn Fn(&str) + Sync),
) -> Result<Locked> {
    let Some(location) = target.deploy_lock_location(aws, stack_name, bucket).await? else {
        return Ok(Locked {
            lock: None,
            warning: Some(
                "no artifact bucket yet (sam makes its managed bucket on the first deploy in this account and region): this run is not locked against runs from other machines".into(),
            ),
        });
    };
    let client = crate::aws::clients::s3(&aws.sdk);
    let holder = s3_lock::holder_name();
    let started = Instant::now();
    let mut waiting_for = None;
    loop {
        match s3_lock::try_acquire(&client, &location, &holder).await? {
            Attempt::Held(lock) => {
                let warning = lock.took_over_from.as_ref().map(|stopped| {
                    format!(
                        "took over the deploy lock {} that {stopped} left to expire (a run that was stopped)",
                        location.uri()
                    )
                });
                return Ok(Locked {
                    lock: Some(lock),
                    warning,
                });
            }
            Attempt::Busy(current) => {
                let elapsed = started.elapsed();
                if elapsed >= wait {
                    return Err(Error::State {
                        path: location.uri().into(),
                        message: format!(
                            "another agentdeploy ({}) is deploying {function_name} (from another checkout or machine)",
                            current.holder
                        ),
                        hint: format!(
                            "wait for it to finish{}; a stopped run's lock expires within {} minutes",
                            if wait.is_zero() {
                                ""
                            } else {
                                ", or pass a longer --lock-timeout"
                            },
                            s3_lock::LOCK_TTL.as_secs() / 60
                        ),
                    });
                }
                if waiting_for.as_ref() != Some(&current.holder) {
                    waiting(&format!(
                        "waiting for the deploy of {} ({})",
                        current.holder,
                        location.uri()
                    ));
                    waiting_for = Some(current.holder);
                }
                tokio::time::sleep(Duration::from_secs(2).min(wait - elapsed)).await;
            }
        }
    }
}
