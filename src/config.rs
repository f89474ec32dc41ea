//! Config file loading (reference §4): `agentdeploy.toml` or `agentdeploy.yaml`, one schema.
//! Unknown keys and wrong types are errors naming the file, the line and the closest valid key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

use crate::options::{AgentSection, EnvironmentSection};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub defaults: AgentSection,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentSection>,
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentSection>,
    /// Model prices (USD per million tokens) over the built-in table, by model id, for
    /// `metrics` and `cost --from-metrics`.
    #[serde(default)]
    pub model_prices: BTreeMap<String, crate::prices::ModelPrice>,
}

/// A loaded config file and where it came from (relative paths in it are relative to its folder).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl LoadedConfig {
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The merged section for one agent: `[defaults]` < `[agents.NAME]` < `[environments.ENV]`
    /// < `[environments.ENV.agents.NAME]`. Relative paths are made relative to the config's folder.
    pub fn section_for(&self, name: &str, env: Option<&str>) -> Result<AgentSection> {
        let mut merged = self.file.defaults.clone();
        if let Some(agent) = self.file.agents.get(name) {
            merged.overlay(agent.clone());
        }
        if let Some(env_name) = env {
            let environment = self.environment(env_name)?;
            merged.overlay(environment.as_agent_section());
            if let Some(agent) = environment.agents.get(name) {
                merged.overlay(agent.clone());
            }
        }
        merged.resolve_paths(self.dir());
        Ok(merged)
    }

    pub fn environment(&self, env_name: &str) -> Result<&EnvironmentSection> {
        self.file.environments.get(env_name).ok_or_else(|| {
            let known: Vec<&str> = self.file.environments.keys().map(String::as_str).collect();
            Error::Config {
                location: self.path.display().to_string(),
                message: format!("environment `{env_name}` is not defined"),
                hint: Some(if known.is_empty() {
                    format!("add an [environments.{env_name}] table, or drop --env")
                } else {
                    format!("defined environments: {}", known.join(", "))
                }),
            }
        })
    }

    /// Agent names declared in the file, in file order of `[agents.*]`.
    pub fn agent_names(&self) -> Vec<String> {
        self.file.agents.keys().cloned().collect()
    }
}

impl AgentSection {
    fn resolve_paths(&mut self, base: &Path) {
        for path in [
            &mut self.agent,
            &mut self.requirements,
            &mut self.out_dir,
            &mut self.smoke,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }
}

/// Finds the config: the `-c` path (which must exist), else `./agentdeploy.toml`, else
/// `./agentdeploy.yaml` / `.yml`, else none.
pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<Option<LoadedConfig>> {
    if let Some(path) = explicit {
        if !path.is_file() {
            return Err(Error::usage_hint(
                "--config",
                format!("{}: no such file", path.display()),
                "check the path, or run `agentdeploy init` to write one",
            ));
        }
        return load(path).map(Some);
    }
    for name in ["agentdeploy.toml", "agentdeploy.yaml", "agentdeploy.yml"] {
        let candidate = cwd.join(name);
        if candidate.is_file() {
            return load(&candidate).map(Some);
        }
    }
    Ok(None)
}

pub fn load(path: &Path) -> Result<LoadedConfig> {
    let text = crate::files::read_user_text(path).map_err(|reason| Error::Config {
        location: path.display().to_string(),
        message: format!("cannot read the config file: {reason}"),
        hint: Some("agentdeploy.toml / .yaml is a small UTF-8 text file".into()),
    })?;
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    );
    let file = if is_yaml {
        parse_yaml(path, &text)?
    } else {
        parse_toml(path, &text)?
    };
    for name in file.environments.keys() {
        if let Err(problem) = check_environment_name(name) {
            return Err(Error::Config {
                location: format!("{}:{}", path.display(), line_naming(&text, name)),
                message: format!("[environments.{name}]: {problem}"),
                hint: Some("rename the environment, e.g. `staging` or `prod-eu`".into()),
            });
        }
    }
    let loaded = LoadedConfig {
        path: path.to_path_buf(),
        file,
    };
    Ok(loaded)
}

/// Environment names become folder names (the out-dir, the record key) and part of the stack
/// name, so nothing that could leave a folder or break a stack name gets through.
pub fn check_environment_name(name: &str) -> std::result::Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid environment name; use 1-32 characters of A-Z a-z 0-9 and -, starting with a letter or digit",
            name.escape_debug()
        ))
    }
}

/// The first line that mentions `needle`, for errors about keys serde reports without a span.
fn line_naming(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|offset| line_of_offset(text, offset))
        .unwrap_or(1)
}

pub fn parse_toml(path: &Path, text: &str) -> Result<ConfigFile> {
    toml::from_str::<ConfigFile>(text).map_err(|err| {
        let line = err
            .span()
            .map(|span| line_of_offset(text, span.start))
            .unwrap_or(1);
        config_error(path, line, err.message())
    })
}

pub fn parse_yaml(path: &Path, text: &str) -> Result<ConfigFile> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    serde_yaml::from_str::<ConfigFile>(text).map_err(|err| {
        let line = err.location().map(|l| l.line()).unwrap_or(1);
        // serde_yaml appends " at line X column Y"; we print the location ourselves.
        let message = err.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        config_error(path, line, &message)
    })
}

fn config_error(path: &Path, line: usize, message: &str) -> Error {
    let hint = unknown_field_hint(message);
    Error::Config {
        location: format!("{}:{line}", path.display()),
        message: message.trim().to_string(),
        hint,
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" messages: the closest valid key.
fn unknown_field_hint(message: &str) -> Option<String> {
    // serde_yaml prefixes the path (`agents.a: unknown field ...`).
    let (_, rest) = message.split_once("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let candidates: Vec<&str> = rest
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(unknown, c), *c))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    if best.0 >= 0.7 {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("valid keys here: {}", candidates.join(", ")))
    }
}

pub fn line_of_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_err(text: &str) -> Error {
        match parse_toml(Path::new("agentdeploy.toml"), text) {
            Err(e) => e,
            Ok(c) => panic!("expected an error, parsed {c:?}"),
        }
    }

    #[test]
    fn unknown_key_names_file_line_and_closest_key() {
        let err = toml_err(
            "[defaults]\nregion = \"us-east-1\"\n\n[agents.a]\nagent = \"a.py\"\nmemroy = 1024\n",
        );
        let Error::Config {
            location,
            message,
            hint,
        } = err
        else {
            panic!()
        };
        assert_eq!(location, "agentdeploy.toml:6");
        assert!(message.contains("memroy"), "{message}");
        assert_eq!(hint.as_deref(), Some("did you mean `memory`?"));
    }

    #[test]
    fn unknown_top_level_table_is_rejected() {
        let err = toml_err("[agent.a]\nagent = \"a.py\"\n");
        let Error::Config { hint, .. } = err else {
            panic!()
        };
        assert_eq!(hint.as_deref(), Some("did you mean `agents`?"));
    }

    #[test]
    fn wrong_type_names_the_line() {
        let err = toml_err("[defaults]\n\ntimeout = \"long\"\n");
        let Error::Config {
            location, message, ..
        } = err
        else {
            panic!()
        };
        assert_eq!(location, "agentdeploy.toml:3");
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn toml_syntax_error_has_a_line() {
        let err = toml_err("[defaults]\nregion = \n");
        let Error::Config { location, .. } = err else {
            panic!()
        };
        assert_eq!(location, "agentdeploy.toml:2");
    }

    #[test]
    fn yaml_unknown_key_names_line_and_closest_key() {
        let err = parse_yaml(
            Path::new("agentdeploy.yaml"),
            "defaults:\n  region: us-east-1\nagents:\n  a:\n    agent: a.py\n    timout: 30\n",
        )
        .unwrap_err();
        let Error::Config { location, hint, .. } = err else {
            panic!()
        };
        assert_eq!(location, "agentdeploy.yaml:6");
        assert_eq!(hint.as_deref(), Some("did you mean `timeout`?"));
    }

    #[test]
    fn yaml_and_toml_share_one_schema() {
        let toml = parse_toml(
            Path::new("a.toml"),
            "[agents.x]\nagent = \"x.py\"\nmemory = 1024\nenv_vars = { A = \"1\" }\n",
        )
        .unwrap();
        let yaml = parse_yaml(
            Path::new("a.yaml"),
            "agents:\n  x:\n    agent: x.py\n    memory: 1024\n    env_vars:\n      A: \"1\"\n",
        )
        .unwrap();
        assert_eq!(toml.agents, yaml.agents);
    }

    #[test]
    fn precedence_defaults_agent_environment_agent_in_environment() {
        let file = parse_toml(
            Path::new("/p/agentdeploy.toml"),
            r#"
[defaults]
region = "us-east-1"
architecture = "arm64"
timeout = 300
memory = 256
env_vars = { A = "defaults", B = "defaults" }

[agents.r]
agent = "agents/r.py"
memory = 1024
env_vars = { B = "agent" }

[environments.prod]
region = "eu-west-1"
timeout = 600

[environments.prod.agents.r]
memory = 2048
"#,
        )
        .unwrap();
        let loaded = LoadedConfig {
            path: "/p/agentdeploy.toml".into(),
            file,
        };
        let dev = loaded.section_for("r", None).unwrap();
        assert_eq!(dev.memory, Some(1024));
        assert_eq!(dev.region.as_deref(), Some("us-east-1"));
        assert_eq!(dev.timeout, Some(300));
        assert_eq!(dev.agent.as_deref(), Some(Path::new("/p/agents/r.py")));
        let env_vars = dev.env_vars.unwrap();
        assert_eq!(env_vars["A"], "defaults");
        assert_eq!(env_vars["B"], "agent");

        let prod = loaded.section_for("r", Some("prod")).unwrap();
        assert_eq!(prod.memory, Some(2048));
        assert_eq!(prod.region.as_deref(), Some("eu-west-1"));
        assert_eq!(prod.timeout, Some(600));
        assert_eq!(prod.architecture.as_deref(), Some("arm64"));

        let missing = loaded.section_for("r", Some("staging")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("environment `staging` is not defined")
        );
        assert_eq!(missing.hint(), Some("defined environments: prod"));
    }
}
