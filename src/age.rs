//! An age as flags give one (`30s`, `10m`, `2h`, `1d`): `logs --since`, `metrics --since`,
//! `--ttl`.

use std::time::Duration;

/// `None` for anything else (no unit, another unit, zero, an overflow).
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let count: u64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        's' => count,
        'm' => count.checked_mul(60)?,
        'h' => count.checked_mul(3600)?,
        'd' => count.checked_mul(86_400)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}
