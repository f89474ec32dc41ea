//! `sam deploy` (reference §7), non-interactive, with the generated samconfig; secret parameters
//! travel in a 0600 file that exists only while sam runs.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lambda::tools::SamCli;
use crate::process::{ToolOptions, ToolRun, run_tool};

pub struct DeployRequest<'a> {
    pub sam: &'a SamCli,
    pub out_dir: &'a Path,
    pub built_template: &'a Path,
    pub region: &'a str,
    /// The samconfig.toml to pass: the project's, or the 0600 copy that holds secret overrides.
    pub config_file: &'a Path,
    pub envs: Vec<(String, String)>,
}

pub async fn deploy(request: &DeployRequest<'_>, tool: ToolOptions<'_>) -> Result<ToolRun> {
    let args: Vec<String> = vec![
        "deploy".into(),
        "--template-file".into(),
        request.built_template.display().to_string(),
        "--config-file".into(),
        request.config_file.display().to_string(),
        "--region".into(),
        request.region.to_string(),
        "--no-confirm-changeset".into(),
        "--no-fail-on-empty-changeset".into(),
        "--no-progressbar".into(),
    ];
    let mut tool = tool;
    tool.envs.extend(request.envs.iter().cloned());
    let _ = request.out_dir;
    run_tool(&request.sam.path, &args, tool).await
}

/// A private directory holding the samconfig copy with secret overrides (0700 dir, 0600 file).
/// Dropping it removes both, on success, failure or unwinding.
pub struct SecretConfig {
    dir: tempfile::TempDir,
}

impl SecretConfig {
    pub fn write(contents: &str) -> Result<SecretConfig> {
        let dir = tempfile::Builder::new()
            .prefix("agentdeploy-secrets-")
            .tempdir()
            .map_err(|e| {
                Error::internal(format!("cannot create a private temporary directory: {e}"))
            })?;
        // Only this user may even list the directory that holds the secret file.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(|e| Error::io(dir.path(), e))?;
        let path = dir.path().join("samconfig.toml");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(|e| Error::io(&path, e))?;
        std::io::Write::write_all(&mut file, contents.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        Ok(SecretConfig { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("samconfig.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secret_config_is_private_and_removed_on_drop() {
        let config = SecretConfig::write("parameter_overrides = \"x\"\n").unwrap();
        let path = config.path();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        drop(config);
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists());
    }
}
