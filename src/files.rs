//! File writes that never leave a half-written file: the record, caches and rendered projects all
//! go through here.

use std::path::Path;

use crate::error::{Error, Result};

/// temp file + rename, so an interrupted run never leaves a half-written file behind.
pub fn write_atomically(target: &Path, contents: &[u8]) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
    std::io::Write::write_all(&mut temp, contents).map_err(|e| Error::io(target, e))?;
    temp.persist(target)
        .map_err(|e| Error::io(target, e.error))?;
    Ok(())
}
