//! One redaction layer: every secret value (and AWS secret keys from the environment) is masked in
//! progress, logs, tool output and errors before anything is printed.

use std::sync::Arc;

pub const MASK: &str = "****";

#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<Vec<String>>,
}

impl Redactor {
    /// Values shorter than 4 characters are not masked: they would garble ordinary words and are
    /// not secrets worth the name.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| v.len() >= 4).collect();
        for key in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Ok(v) = std::env::var(key)
                && v.len() >= 4
            {
                values.push(v);
            }
        }
        // Longest first, so a value containing another is masked whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Redactor {
            values: Arc::new(values),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in self.values.iter() {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        out
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new([
            "s3cr3t-value".to_string(),
            "s3cr3t".to_string(),
            "ab".to_string(),
        ]);
        assert_eq!(r.redact("x s3cr3t-value y s3cr3t ab"), "x **** y **** ab");
    }
}
