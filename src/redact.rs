//! One redaction layer: every secret value (and AWS secret keys from the environment) is masked in
//! progress, logs, tool output and errors before anything is printed.

use std::sync::Arc;

pub const MASK: &str = "****";

#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<Vec<String>>,
}

/// Secrets shorter than this are refused (reference §7): masking them would garble ordinary words.
pub const MIN_SECRET_LEN: usize = 8;

impl Redactor {
    /// Every value is masked in each form it can take in output: as is, JSON-escaped (a PEM key
    /// inside a JSON error or `state.json`), and line by line (a multi-line value echoed by a
    /// tool one line at a time). Values shorter than 4 characters are left alone.
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().collect();
        for key in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Ok(v) = std::env::var(key) {
                values.push(v);
            }
        }
        let mut forms: Vec<String> = values.iter().flat_map(|v| forms_of(v)).collect();
        forms.retain(|form| form.len() >= 4);
        // Longest first, so a value containing another is masked whole.
        forms.sort_by_key(|v| std::cmp::Reverse(v.len()));
        forms.dedup();
        Redactor {
            values: Arc::new(forms),
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

/// The ways `value` can appear in text: itself, JSON-escaped, and each of its lines.
fn forms_of(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    if let Ok(quoted) = serde_json::to_string(value) {
        forms.push(quoted[1..quoted.len() - 1].to_string());
    }
    if value.contains('\n') || value.contains('\r') {
        forms.extend(
            value
                .lines()
                .map(str::trim)
                .filter(|line| line.len() >= MIN_SECRET_LEN)
                .map(str::to_string),
        );
    }
    forms
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

    #[test]
    fn a_multi_line_value_is_masked_whole_line_by_line_and_json_escaped() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nq9zP1mXs0rTqW\\\"x\n-----END KEY-----";
        let r = Redactor::new([pem.to_string()]);
        assert_eq!(r.redact(&format!("a {pem} b")), "a **** b");
        let one_line = "sam: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
        assert!(!r.redact(one_line).contains("MIIEvQIBADANBgkq"));
        let json = serde_json::to_string(pem).unwrap();
        let masked = r.redact(&json);
        assert!(!masked.contains("MIIEvQIBADANBgkq"), "{masked}");
        assert!(!masked.contains("q9zP1mXs0rTqW"), "{masked}");
    }
}
