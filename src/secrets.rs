//! Secret values (reference §3, §7): read from the process environment or a `.env` file beside the
//! config, never from argv. The values live only in memory and in the short-lived 0600
//! parameter file handed to `sam deploy`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::redact::MIN_SECRET_LEN;

/// NAME → value, in the order the secrets were declared.
#[derive(Clone, Default)]
pub struct SecretValues {
    pub values: Vec<(String, String)>,
}

impl SecretValues {
    /// What hides these values (and the process's own AWS secrets) in everything shown.
    pub fn redactor(&self) -> crate::redact::Redactor {
        crate::redact::Redactor::new(self.values.iter().map(|(_, v)| v.clone()))
    }
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
        let from_env = std::env::var(name).ok();
        let source = if from_env.is_some() {
            "the environment".to_string()
        } else {
            dotenv_path.display().to_string()
        };
        match from_env.or_else(|| dotenv.get(name).cloned()) {
            Some(value) if value.chars().count() < MIN_SECRET_LEN && !value.is_empty() => {
                return Err(Error::Usage {
                    flag: "--secret".into(),
                    message: format!(
                        "the value of secret {name} (from {source}) is shorter than {MIN_SECRET_LEN} characters, too short to mask in output safely"
                    ),
                    hint: Some(format!(
                        "a value this short is not a secret worth the name: pass it with --env-var {name}=..., or use the real credential"
                    )),
                });
            }
            Some(value) if !value.is_empty() => values.push((name.clone(), value)),
            _ => missing.push(name.clone()),
        }
    }
    Ok((values, missing))
}

/// All the secret values (with their names) as one keyed digest, hex: changes whenever any value
/// does, and without the key confirms no guess.
pub fn values_digest(key: &[u8], values: &[(String, String)]) -> String {
    let mut joined = Vec::new();
    for (name, value) in values {
        joined.extend_from_slice(name.as_bytes());
        joined.push(0);
        joined.extend_from_slice(value.as_bytes());
        joined.push(0);
    }
    crate::digest::hex(&crate::digest::keyed(key, &joined))
}

/// A dotenv file as python-dotenv and the tools that write these files read it: `KEY=VALUE`
/// lines, an optional `export` (then a space or tab), `#` comments (whole lines, or after a space
/// in an unquoted value or after a closing quote), single quotes taken literally, double quotes
/// with `\n \t \r \\ \" \'` escapes, and quoted values over several lines. Errors name only the
/// line: the text may hold a secret.
pub fn parse_dotenv(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = crate::files::read_user_text(path).map_err(|reason| Error::Config {
        location: path.display().to_string(),
        message: format!("cannot read: {reason}"),
        hint: None,
    })?;
    parse_dotenv_text(&text).map_err(|(line, message)| Error::Config {
        location: format!("{}:{line}", path.display()),
        message: message.into(),
        hint: Some("write KEY=VALUE, quoting values with spaces, # or newlines".into()),
    })
}

/// One pass over the characters (quotes, escapes, `export`, comments, multi-line values); errors
/// carry the line only.
fn parse_dotenv_text(
    text: &str,
) -> std::result::Result<BTreeMap<String, String>, (usize, &'static str)> {
    let mut cursor = Dotenv {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
    };
    let mut map = BTreeMap::new();
    loop {
        // Leading blanks; blank and comment lines.
        cursor.skip(&[' ', '\t', '\r']);
        match cursor.peek() {
            None => break,
            Some('\n') => {
                cursor.i += 1;
                cursor.line += 1;
                continue;
            }
            Some('#') => {
                cursor.skip_to_line_end();
                continue;
            }
            _ => {}
        }
        let start_line = cursor.line;
        let key = cursor.key().ok_or((start_line, "expected KEY=VALUE"))?;
        let value = match cursor.peek() {
            Some(quote @ ('\'' | '"')) => cursor.quoted(quote, start_line)?,
            _ => cursor.unquoted(),
        };
        map.insert(key, value);
    }
    Ok(map)
}

/// A position in a dotenv file's text, and its line.
struct Dotenv {
    chars: Vec<char>,
    i: usize,
    line: usize,
}

impl Dotenv {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn skip(&mut self, blanks: &[char]) {
        while self.peek().is_some_and(|c| blanks.contains(&c)) {
            self.i += 1;
        }
    }

    fn skip_to_line_end(&mut self) {
        while !matches!(self.peek(), None | Some('\n')) {
            self.i += 1;
        }
    }

    /// `[export ]KEY =`, leaving the cursor at the value; None when that is not what is here.
    fn key(&mut self) -> Option<String> {
        if self.chars[self.i..].starts_with(&['e', 'x', 'p', 'o', 'r', 't'])
            && matches!(self.chars.get(self.i + 6), Some(' ' | '\t'))
        {
            self.i += 6;
            self.skip(&[' ', '\t']);
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            self.i += 1;
        }
        let key: String = self.chars[start..self.i].iter().collect();
        self.skip(&[' ', '\t']);
        if key.is_empty() || self.peek() != Some('=') {
            return None;
        }
        self.i += 1;
        self.skip(&[' ', '\t']);
        Some(key)
    }

    /// A value in `quote`s: single quotes literal, double quotes with escapes, over several lines
    /// if need be; after it only blanks and a comment.
    fn quoted(
        &mut self,
        quote: char,
        start_line: usize,
    ) -> std::result::Result<String, (usize, &'static str)> {
        let mut value = String::new();
        self.i += 1;
        loop {
            match self.peek() {
                None => return Err((start_line, "this quoted value is never closed")),
                Some(c) if c == quote => {
                    self.i += 1;
                    break;
                }
                Some('\\') if quote == '"' => {
                    let escaped = match self.chars.get(self.i + 1) {
                        Some('n') => Some('\n'),
                        Some('t') => Some('\t'),
                        Some('r') => Some('\r'),
                        Some(c @ ('\\' | '"' | '\'')) => Some(*c),
                        _ => None,
                    };
                    value.push(escaped.unwrap_or('\\'));
                    self.i += if escaped.is_some() { 2 } else { 1 };
                }
                Some(c) => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    value.push(c);
                    self.i += 1;
                }
            }
        }
        self.skip(&[' ', '\t', '\r']);
        match self.peek() {
            None | Some('\n') => {}
            Some('#') => self.skip_to_line_end(),
            Some(_) => return Err((self.line, "unexpected text after the closing quote")),
        }
        Ok(value)
    }

    /// An unquoted value: to the line's end or a `#` after a blank, trimmed.
    fn unquoted(&mut self) -> String {
        let mut value = String::new();
        while let Some(c) = self.peek().filter(|c| *c != '\n') {
            if c == '#' && matches!(self.chars.get(self.i.wrapping_sub(1)), Some(' ' | '\t')) {
                self.skip_to_line_end();
                break;
            }
            value.push(c);
            self.i += 1;
        }
        value.trim().to_string()
    }
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
    fn dotenv_as_dotenv_writers_write_it() {
        let map = parse_dotenv_text(concat!(
            "K=\"v\" # comment\n",
            "S='v' # c\n",
            "export\tT=tabbed\n",
            "E=\"a\\nb\\\"c\\\\d\"\n",
            "L='lit\\n'\n",
            "M=\"line1\nline2\"\n",
            "H=a#b\n",
            "  I = spaced  \n",
            "EMPTY=\n",
        ))
        .unwrap();
        assert_eq!(map["K"], "v");
        assert_eq!(map["S"], "v");
        assert_eq!(map["T"], "tabbed");
        assert_eq!(map["E"], "a\nb\"c\\d");
        assert_eq!(map["L"], "lit\\n");
        assert_eq!(map["M"], "line1\nline2");
        assert_eq!(map["H"], "a#b");
        assert_eq!(map["I"], "spaced");
        assert_eq!(map["EMPTY"], "");
        assert_eq!(parse_dotenv_text("A=1\nB=\"open\n").unwrap_err().0, 2);
        assert_eq!(parse_dotenv_text("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert_eq!(parse_dotenv_text("A=\"x\" y\n").unwrap_err().0, 1);
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
