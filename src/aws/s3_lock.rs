//! One deploy of a deployment at a time across machines (reference §7): a lock object in the
//! artifacts bucket, taken with S3's conditional writes (`If-None-Match: *` creates it only when
//! absent, `If-Match: <etag>` replaces exactly the version that was read), so two runners never
//! both hold it. The holder renews it while it works; a runner that was killed stops renewing and
//! its lock expires, after which the next deploy takes it over (again by a conditional write, so
//! only one does).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a lock lasts without renewal: a killed runner blocks others at most this long.
pub const LOCK_TTL: Duration = Duration::from_secs(300);
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// Where a deployment's lock lives, and the key its body is signed with (whoever can write the
/// bucket but not read that key cannot write a lock anyone believes).
#[derive(Clone, PartialEq, Eq)]
pub struct LockLocation {
    pub bucket: String,
    pub key: String,
    signing_key: Vec<u8>,
}

impl std::fmt::Debug for LockLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockLocation")
            .field("bucket", &self.bucket)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl LockLocation {
    pub fn for_stack(bucket: &str, stack_name: &str, signing_key: Vec<u8>) -> LockLocation {
        LockLocation {
            bucket: bucket.to_string(),
            key: format!("agentdeploy/locks/{stack_name}.json"),
            signing_key,
        }
    }

    /// The HMAC of a lock body's fields at this location.
    fn mac(&self, body: &LockBody) -> String {
        let signed = format!(
            "{}\0{}\0{}\0{}\0{}",
            self.key, body.holder, body.token, body.acquired_at, body.expires_at
        );
        crate::digest::hex(&crate::digest::keyed(&self.signing_key, signed.as_bytes()))
    }

    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The lock object's content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockBody {
    /// Who holds it, for the message another runner shows (user@host, pid).
    pub holder: String,
    /// Unique to one acquisition.
    pub token: String,
    /// Seconds since the epoch when it was taken, and when it lapses unless renewed.
    pub acquired_at: u64,
    pub expires_at: u64,
    /// The HMAC of the fields above under the location's key.
    #[serde(default)]
    pub mac: String,
}

/// How far a lock's clock may run ahead of ours and still count (machines' clocks differ).
const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// A lock object larger than this is not agentdeploy's (it writes a few hundred bytes).
const MAX_LOCK_BYTES: i64 = 4096;

impl LockBody {
    /// Someone holds it at `now`: not yet expired, and not expiring further out than a lease
    /// can reach (a lock claiming the year 9999 was never written by a renewing holder).
    pub fn is_held_at(&self, now: u64) -> bool {
        self.expires_at > now && self.expires_at <= now + (LOCK_TTL + CLOCK_SKEW).as_secs()
    }
}

/// One attempt's outcome.
#[derive(Debug)]
pub enum Attempt {
    Held(HeldLock),
    /// Someone else holds it (their body as read).
    Busy(LockBody),
}

/// A lock this process holds; renewed in the background until `release`.
#[derive(Debug)]
pub struct HeldLock {
    client: aws_sdk_s3::Client,
    location: LockLocation,
    etag: Arc<Mutex<String>>,
    renewal: tokio::task::JoinHandle<()>,
    token: String,
    /// The holder whose expired lock this one replaced.
    pub took_over_from: Option<String>,
}

/// The locks this process holds: a run stopped by a signal drops its deploys mid-way, and
/// `release_abandoned` then gives their locks back before the process exits.
static HELD: Mutex<Vec<Registered>> = Mutex::new(Vec::new());

/// A held lock as the registry keeps it: its token, and what deleting it takes.
type Registered = (String, aws_sdk_s3::Client, LockLocation, Arc<Mutex<String>>);

/// Releases every lock whose deploy was dropped without releasing it (Ctrl-C, SIGTERM).
pub async fn release_abandoned() {
    let abandoned: Vec<_> = HELD
        .lock()
        .map(|mut held| held.drain(..).collect())
        .unwrap_or_default();
    for (_, client, location, etag) in abandoned {
        let etag = etag.lock().map(|e| e.clone()).unwrap_or_default();
        delete(&client, &location, &etag).await;
    }
}

async fn delete(client: &aws_sdk_s3::Client, location: &LockLocation, etag: &str) {
    if let Err(err) = client
        .delete_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .if_match(etag)
        .send()
        .await
    {
        tracing::warn!(
            "could not release the deploy lock {} (it expires by itself): {}",
            location.uri(),
            crate::aws::errors::describe(&err)
        );
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `user@host pid N`, as far as the machine says.
pub fn holder_name() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "a machine".into());
    format!("{user}@{host} pid {}", std::process::id())
}

fn new_token() -> Result<String> {
    Ok(crate::digest::hex(&crate::files::random_bytes(16)?))
}

/// A failed conditional write: the object changed (or appeared) since it was read.
fn is_condition_failure<E: ProvideErrorMetadata, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool {
    err.as_service_error().is_some_and(|e| {
        matches!(
            e.code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        )
    })
}

fn lock_error<E, R>(
    what: std::fmt::Arguments<'_>,
    location: &LockLocation,
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if err
        .as_service_error()
        .is_some_and(|e| e.code() == Some("NoSuchBucket"))
    {
        return Error::Deploy {
            message: format!("the artifact bucket {} does not exist", location.bucket),
            hint: crate::aws::errors::MISSING_BUCKET_HINT.into(),
        };
    }
    crate::aws::errors::deploy_call_failed(
        format_args!("{what} {}", location.uri()),
        err,
        &crate::hints::needs(
            "s3:GetObject, s3:PutObject and s3:DeleteObject on the artifact bucket's agentdeploy/ prefix",
            None,
        ),
    )
}

/// Tries once to take the lock: creates it when absent, takes over one that has expired.
pub async fn try_acquire(
    client: &aws_sdk_s3::Client,
    location: &LockLocation,
    holder: &str,
) -> Result<Attempt> {
    let body = |token: &str| {
        let now = now_secs();
        LockBody {
            holder: holder.to_string(),
            token: token.to_string(),
            acquired_at: now,
            expires_at: now + LOCK_TTL.as_secs(),
            mac: String::new(),
        }
    };
    let token = new_token()?;
    // Absent: create it. A lock released between the failed create and the read is created
    // on the next round.
    for _ in 0..3 {
        match put(client, location, &body(&token), Condition::Absent).await {
            Ok(etag) => {
                return Ok(Attempt::Held(held(
                    client, location, etag, holder, &token, None,
                )));
            }
            Err(err) if is_condition_failure(&err) => {}
            Err(err) => return Err(lock_error(format_args!("taking the lock"), location, &err)),
        }
        let Some((current, etag)) = read(client, location).await? else {
            continue;
        };
        if current.is_held_at(now_secs()) {
            return Ok(Attempt::Busy(current));
        }
        // Expired: replace exactly the version read; a runner that got there first wins.
        match put(client, location, &body(&token), Condition::Is(&etag)).await {
            Ok(etag) => {
                return Ok(Attempt::Held(held(
                    client,
                    location,
                    etag,
                    holder,
                    &token,
                    Some(current.holder),
                )));
            }
            Err(err) if is_condition_failure(&err) => continue,
            Err(err) => {
                return Err(lock_error(
                    format_args!("taking over the expired lock"),
                    location,
                    &err,
                ));
            }
        }
    }
    match read(client, location).await? {
        Some((current, _)) => Ok(Attempt::Busy(current)),
        None => Err(Error::Deploy {
            message: format!(
                "the lock {} kept changing while it was taken",
                location.uri()
            ),
            hint: "another deploy is starting at the same moment; run this one again".into(),
        }),
    }
}

enum Condition<'a> {
    Absent,
    Is(&'a str),
}

async fn put(
    client: &aws_sdk_s3::Client,
    location: &LockLocation,
    body: &LockBody,
    condition: Condition<'_>,
) -> std::result::Result<
    String,
    aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_s3::operation::put_object::PutObjectError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
> {
    let signed = LockBody {
        mac: location.mac(body),
        ..body.clone()
    };
    let bytes = serde_json::to_vec(&signed).unwrap_or_default();
    let request = client
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .content_type("application/json")
        .body(ByteStream::from(bytes));
    let request = match condition {
        Condition::Absent => request.if_none_match("*"),
        Condition::Is(etag) => request.if_match(etag),
    };
    let out = request.send().await?;
    Ok(out.e_tag().unwrap_or_default().to_string())
}

/// The lock as it is now, with its etag; `None` when there is none.
pub async fn read(
    client: &aws_sdk_s3::Client,
    location: &LockLocation,
) -> Result<Option<(LockBody, String)>> {
    let out = match client
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
    {
        Ok(out) => out,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
            return Ok(None);
        }
        Err(err) => return Err(lock_error(format_args!("reading the lock"), location, &err)),
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    if out.content_length().unwrap_or(0) > MAX_LOCK_BYTES {
        return Ok(Some((unreadable(), etag)));
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| Error::Deploy {
            message: format!("reading the lock {} failed: {e}", location.uri()),
            hint: "run the deploy again".into(),
        })?
        .into_bytes();
    // A lock that is not agentdeploy's JSON (truncated, hand-made) counts as expired: it would
    // otherwise block every deploy forever.
    let mut body: LockBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| unreadable());
    // A lock not signed with the key is no lock: it expired (whoever wrote it could write the
    // bucket, not read the key). The holder it claims is printed escaped.
    if !crate::digest::same(body.mac.as_bytes(), location.mac(&body).as_bytes()) {
        body.holder = format!("an unsigned lock claiming {}", body.holder);
        body.expires_at = 0;
    }
    body.holder = crate::untrusted::one_line(&body.holder, 200);
    Ok(Some((body, etag)))
}

fn unreadable() -> LockBody {
    LockBody {
        holder: "an unreadable lock".into(),
        token: String::new(),
        acquired_at: 0,
        expires_at: 0,
        mac: String::new(),
    }
}

fn held(
    client: &aws_sdk_s3::Client,
    location: &LockLocation,
    etag: String,
    holder: &str,
    token: &str,
    took_over_from: Option<String>,
) -> HeldLock {
    let etag = Arc::new(Mutex::new(etag));
    if let Ok(mut registry) = HELD.lock() {
        registry.push((
            token.to_string(),
            client.clone(),
            location.clone(),
            etag.clone(),
        ));
    }
    let renewal = tokio::spawn(renew(
        client.clone(),
        location.clone(),
        etag.clone(),
        holder.to_string(),
        token.to_string(),
    ));
    HeldLock {
        client: client.clone(),
        location: location.clone(),
        etag,
        renewal,
        token: token.to_string(),
        took_over_from,
    }
}

/// Pushes the expiry forward every minute, replacing only the lock this process wrote.
async fn renew(
    client: aws_sdk_s3::Client,
    location: LockLocation,
    etag: Arc<Mutex<String>>,
    holder: String,
    token: String,
) {
    let mut ticks = tokio::time::interval(RENEW_EVERY);
    ticks.tick().await;
    let acquired_at = now_secs();
    loop {
        ticks.tick().await;
        let current = etag.lock().map(|e| e.clone()).unwrap_or_default();
        let now = now_secs();
        let body = LockBody {
            holder: holder.clone(),
            token: token.clone(),
            acquired_at,
            expires_at: now + LOCK_TTL.as_secs(),
            mac: String::new(),
        };
        match put(&client, &location, &body, Condition::Is(&current)).await {
            Ok(new_etag) => {
                if let Ok(mut slot) = etag.lock() {
                    *slot = new_etag;
                }
            }
            Err(err) => {
                tracing::warn!(
                    "could not renew the deploy lock {}: {}",
                    location.uri(),
                    crate::aws::errors::describe(&err)
                );
                if is_condition_failure(&err) {
                    return;
                }
            }
        }
    }
}

impl HeldLock {
    /// The bucket the lock is kept in (the artifact bucket).
    pub fn bucket(&self) -> &str {
        &self.location.bucket
    }
}

impl HeldLock {
    /// Gives the lock up (only the version this process wrote). A failure is only logged: the
    /// lock expires by itself.
    pub async fn release(self) {
        self.renewal.abort();
        if let Ok(mut registry) = HELD.lock() {
            registry.retain(|(token, ..)| *token != self.token);
        }
        let etag = self.etag.lock().map(|e| e.clone()).unwrap_or_default();
        delete(&self.client, &self.location, &etag).await;
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Dropped without `release` (a signal stopped the run): stop renewing; the lock stays
        // registered for `release_abandoned`, else it expires.
        self.renewal.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(expires_at: u64) -> LockBody {
        LockBody {
            holder: "ci@runner pid 1".into(),
            token: "t".into(),
            acquired_at: 1,
            expires_at,
            mac: String::new(),
        }
    }

    #[test]
    fn a_lock_is_held_until_it_expires_but_never_beyond_a_lease() {
        let now = 1_000_000;
        assert!(body(now + 60).is_held_at(now));
        assert!(!body(now).is_held_at(now), "expired");
        assert!(
            !body(253_402_300_799).is_held_at(now),
            "the year 9999 is no lease"
        );
    }

    #[test]
    fn a_lock_is_signed_for_its_location_and_key() {
        let here = LockLocation::for_stack("b", "agentdeploy-x", vec![7; 32]);
        let other_key = LockLocation::for_stack("b", "agentdeploy-x", vec![8; 32]);
        let other_stack = LockLocation::for_stack("b", "agentdeploy-y", vec![7; 32]);
        let lock = body(5);
        assert_eq!(here.mac(&lock), here.mac(&lock));
        assert_ne!(here.mac(&lock), other_key.mac(&lock));
        assert_ne!(here.mac(&lock), other_stack.mac(&lock));
        assert_ne!(here.mac(&lock), here.mac(&body(6)));
        assert!(
            !format!("{here:?}").contains("7, 7"),
            "the key is not printed"
        );
    }
}
