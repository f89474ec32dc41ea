//! Secret values (SPEC §3, §7): read from the process environment or a `.env` file beside the
//! config, never from argv. The values live only in memory and in the short-lived 0600
//! parameter file handed to `sam deploy`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// NAME → value, in the order the secrets were declared.
#[derive(Clone, Default)]
pub struct SecretValues {
    pub values: Vec<(String, String)>,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the values, even in debug output.
        f.debug_list()
            .entries(self.values.iter().map(|(k, _)| k))
            .finish()
    }
}

/// The secrets' values: from the environment, else the project's `.env`; a name with neither is
/// an error naming it.
pub fn read(names: &[String], project_dir: &Path) -> Result<SecretValues> {
    let (values, missing) = look_up(names, project_dir)?;
    let dotenv_path = project_dir.join(".env");
    if !missing.is_empty() {
        return Err(Error::Usage {
            flag: "--secret".into(),
            message: format!("no value for secret {}", missing.join(", ")),
            hint: Some(format!(
                "export {} in the environment, or add it to {}",
                missing
                    .iter()
                    .map(|m| format!("{m}=..."))
                    .collect::<Vec<_>>()
                    .join(" "),
                dotenv_path.display()
            )),
        });
    }
    Ok(SecretValues { values })
}

/// The names a real deploy would find no value for (a dry run warns about them).
pub fn without_value(names: &[String], project_dir: &Path) -> Result<Vec<String>> {
    look_up(names, project_dir).map(|(_, missing)| missing)
}

type Found = (Vec<(String, String)>, Vec<String>);

fn look_up(names: &[String], project_dir: &Path) -> Result<Found> {
    let dotenv_path = project_dir.join(".env");
    let dotenv = if dotenv_path.is_file() {
        parse_dotenv(&dotenv_path)?
    } else {
        BTreeMap::new()
    };
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match std::env::var(name)
            .ok()
            .or_else(|| dotenv.get(name).cloned())
        {
            Some(value) if !value.is_empty() => values.push((name.clone(), value)),
            _ => missing.push(name.clone()),
        }
    }
    Ok((values, missing))
}

/// `KEY=VALUE` lines; `export ` prefixes, `#` comments and single or double quotes are accepted.
pub fn parse_dotenv(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        location: path.display().to_string(),
        message: format!("cannot read: {e}"),
        hint: None,
    })?;
    let mut map = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            // The line may hold a secret: name only the line number.
            return Err(Error::Config {
                location: format!("{}:{}", path.display(), index + 1),
                message: "expected KEY=VALUE".into(),
                hint: None,
            });
        };
        let value = value.trim();
        let value = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')))
        {
            value[1..value.len() - 1].to_string()
        } else {
            value.split(" #").next().unwrap_or(value).trim().to_string()
        };
        map.insert(key.trim().to_string(), value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_forms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "# c\nexport A=1\nB=\"two words\"\nC='x#y'\nD=plain # comment\n",
        )
        .unwrap();
        let map = parse_dotenv(&path).unwrap();
        assert_eq!(map["A"], "1");
        assert_eq!(map["B"], "two words");
        assert_eq!(map["C"], "x#y");
        assert_eq!(map["D"], "plain");
    }

    #[test]
    fn missing_secret_is_named_and_dotenv_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(&["AGENTDEPLOY_TEST_NOPE_1".into()], dir.path()).unwrap_err();
        assert!(err.to_string().contains("AGENTDEPLOY_TEST_NOPE_1"));
        std::fs::write(
            dir.path().join(".env"),
            "AGENTDEPLOY_TEST_NOPE_1=from-dotenv\n",
        )
        .unwrap();
        let values = read(&["AGENTDEPLOY_TEST_NOPE_1".into()], dir.path()).unwrap();
        assert_eq!(values.values[0].1, "from-dotenv");
        assert!(!format!("{values:?}").contains("from-dotenv"));
    }
}
