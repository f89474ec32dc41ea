//! The function's deployment zip. `sam deploy` given a folder zips all of it on every deploy (for
//! a Strands agent ~160 MB, most of a code-only redeploy's time). Here the dependencies are zipped
//! once per resolved set, into the project's cache where every agent of a fleet finds them (so a
//! set is built by `sam build` once), and each deploy copies that zip and appends its code, so
//! `sam deploy` only hashes and uploads a ready file. Entries carry what sam's own zip gives them:
//! paths relative to the artifact, the file's mode plus read for everyone, the 1980 timestamp (so
//! the same content gives the same bytes and sam's dedup still sees "no change").

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use zip::write::{PreparedZipFile, SimpleFileOptions, ZipFileBuilder};
use zip::{CompressionMethod, ZipWriter};

use crate::error::{Error, Result};
use crate::lambda::bundle::sam::BuildStrategy;

/// The zip `sam deploy` uploads, beside the built template (CodeUri is relative to it).
pub const FUNCTION_ZIP: &str = "AgentFunction.zip";

/// Dependency zips unused for this long are removed when a new one is written.
const UNUSED_DEPS_ZIP_LIFETIME: Duration = Duration::from_secs(14 * 24 * 3600);

/// The zipped dependencies of one resolved set in the project's cache
/// (`.agentdeploy/cache/deps/<hash>.zip`), with what is known of them in `<hash>.json`.
#[derive(Debug, Clone)]
pub struct SharedDeps {
    pub zip: PathBuf,
    facts: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DepsFacts {
    /// How the set was built (reported again by the agents that reuse it).
    pub strategy: BuildStrategy,
    /// The dependencies' unzipped size, for the 250 MiB check without unzipping.
    pub unzipped_bytes: u64,
    /// The bytecode compiled into them when they were built.
    #[serde(default)]
    pub bytecode: Option<crate::build_report::Bytecode>,
}

impl SharedDeps {
    pub fn new(cache_dir: &Path, deps_hash: &str) -> SharedDeps {
        let dir = cache_dir.join("deps");
        SharedDeps {
            zip: dir.join(format!("{deps_hash}.zip")),
            facts: dir.join(format!("{deps_hash}.json")),
        }
    }

    /// Where the zip's facts are kept.
    pub fn facts_path(&self) -> &Path {
        &self.facts
    }

    /// The facts of a complete zip (the facts are written after the zip), if there is one.
    pub fn facts(&self) -> Option<DepsFacts> {
        if !self.zip.is_file() {
            return None;
        }
        let text = std::fs::read_to_string(&self.facts).ok()?;
        serde_json::from_str(&text).ok()
    }
}

pub struct PackageRequest {
    /// `.aws-sam/build`: where the function's zip and the template live.
    pub build_dir: PathBuf,
    /// The built function folder (dependencies and code side by side), when this run has one.
    pub artifact_dir: Option<PathBuf>,
    /// The project's code (`<out-dir>/src`), appended on top of the dependencies.
    pub code_dir: PathBuf,
    pub shared: SharedDeps,
    pub strategy: BuildStrategy,
    /// A fresh build replaces the dependency zip even when the set is the same.
    pub fresh_build: bool,
    /// What a fresh build compiled, kept in the facts for the agents that reuse the zip.
    pub bytecode: Option<crate::build_report::Bytecode>,
}

/// One file to put in a zip: its name inside the archive, where to read it, and what the walk
/// already learnt of it (so each file is looked at once).
use crate::walk::Walked as Entry;

/// `package` on a blocking thread: zipping takes seconds of CPU, which must not stall the
/// runtime that drives the other fleet members and watches for Ctrl-C.
pub async fn package_off_runtime(request: PackageRequest) -> Result<PathBuf> {
    tokio::task::spawn_blocking(move || package(&request))
        .await
        .map_err(|e| Error::internal(format!("zipping the artifact stopped: {e}")))?
}

/// Writes `<build_dir>/AgentFunction.zip` and returns its path.
pub fn package(request: &PackageRequest) -> Result<PathBuf> {
    let code = walk(&request.code_dir)?;
    let code_names: HashSet<&str> = code.iter().map(|e| e.name.as_str()).collect();
    let shared = &request.shared;
    if request.fresh_build || shared.facts().is_none() {
        let artifact = request.artifact_dir.as_deref().ok_or_else(|| {
            Error::internal("neither a dependency zip nor a built folder to make one from")
        })?;
        let deps: Vec<Entry> = walk(artifact)?
            .into_iter()
            .filter(|e| !code_names.contains(e.name.as_str()))
            .collect();
        let unzipped_bytes = deps.iter().map(|e| e.len).sum();
        let dir = shared.zip.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_new_zip(&deps, &shared.zip)?;
        let facts = DepsFacts {
            strategy: request.strategy,
            unzipped_bytes,
            bytecode: request.bytecode.clone(),
        };
        let text =
            serde_json::to_string_pretty(&facts).map_err(|e| Error::internal(e.to_string()))?;
        crate::files::write_atomically(&shared.facts, text.as_bytes())?;
        remove_unused_deps_zips(dir);
    } else if let Ok(file) = File::options().write(true).open(&shared.zip) {
        // Marks it used, for the clean-up above.
        let _ = file.set_modified(SystemTime::now());
    }
    let deps_zip = &shared.zip;
    std::fs::create_dir_all(&request.build_dir).map_err(|e| Error::io(&request.build_dir, e))?;
    let function_zip = request.build_dir.join(FUNCTION_ZIP);
    let temp = tempfile::NamedTempFile::new_in(&request.build_dir)
        .map_err(|e| Error::io(&request.build_dir, e))?;
    std::fs::copy(deps_zip, temp.path()).map_err(|e| Error::io(deps_zip, e))?;
    append(temp.path(), &code)?;
    temp.persist(&function_zip)
        .map_err(|e| Error::io(&function_zip, e.error))?;
    Ok(function_zip)
}

/// The leading bytes a function zip shares with the dependency zip it was made from: the
/// dependencies' entries, up to the dependency zip's central directory (`append` writes the code
/// and a new directory after them). Unchanged from one code change to the next, so `sync` keeps
/// this part in the artifact bucket once and sends only the rest.
#[derive(Clone)]
pub struct DepsPart {
    pub len: u64,
    pub md5: [u8; 16],
    /// SHA-256 over the part, to be continued over the code's part: the whole zip's digest
    /// without reading the dependencies again.
    pub sha256: sha2::Sha256,
}

impl DepsPart {
    /// The part of `deps_zip`: its digests are kept beside it (`<hash>.part`) for as long as it
    /// is the same file, so a sync hashes only the code.
    pub fn of(deps_zip: &Path) -> Result<DepsPart> {
        let sidecar = deps_zip.with_extension("part");
        let identity = file_identity(deps_zip)?;
        if let Some(part) = std::fs::read(&sidecar)
            .ok()
            .and_then(|bytes| DepsPart::decode(&bytes, &identity))
        {
            return Ok(part);
        }
        let part = DepsPart::hash(deps_zip)?;
        // Only a cache: a failure to keep it costs the next sync a hash.
        let _ = crate::files::write_atomically(&sidecar, &part.encode(&identity));
        Ok(part)
    }

    fn hash(deps_zip: &Path) -> Result<DepsPart> {
        use sha2::Digest;
        use std::io::Read;
        let len = deps_part_len(deps_zip)?;
        let mut part = File::open(deps_zip)
            .map_err(|e| Error::io(deps_zip, e))?
            .take(len);
        let mut md5 = md5::Md5::new();
        let mut sha256 = sha2::Sha256::new();
        let mut buffer = vec![0; 1 << 20];
        loop {
            let read = part.read(&mut buffer).map_err(|e| Error::io(deps_zip, e))?;
            if read == 0 {
                break;
            }
            md5.update(&buffer[..read]);
            sha256.update(&buffer[..read]);
        }
        Ok(DepsPart {
            len,
            md5: md5.finalize().into(),
            sha256,
        })
    }

    /// `identity`, then the part's length, MD5 and SHA-256 state.
    fn encode(&self, identity: &[u8; 24]) -> Vec<u8> {
        use sha2::digest::common::hazmat::SerializableState;
        let mut bytes = identity.to_vec();
        bytes.extend(self.len.to_le_bytes());
        bytes.extend(self.md5);
        bytes.extend(self.sha256.serialize().as_slice());
        bytes
    }

    fn decode(bytes: &[u8], identity: &[u8; 24]) -> Option<DepsPart> {
        use sha2::digest::common::hazmat::SerializableState;
        let rest = bytes.strip_prefix(identity.as_slice())?;
        let (len, rest) = rest.split_first_chunk::<8>()?;
        let (md5, state) = rest.split_first_chunk::<16>()?;
        let sha256 = sha2::Sha256::deserialize(state.try_into().ok()?).ok()?;
        Some(DepsPart {
            len: u64::from_le_bytes(*len),
            md5: *md5,
            sha256,
        })
    }

    /// The SHA-256 of the whole zip, this part followed by `code_part`.
    pub fn zip_sha256(&self, code_part: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let mut sha256 = self.sha256.clone();
        sha256.update(code_part);
        sha256.finalize().into()
    }
}

/// The file as it is: a dependency zip is replaced by a new file (device, inode), never
/// rewritten in place; its modification time is touched on every use, so it is not part of it.
fn file_identity(path: &Path) -> Result<[u8; 24]> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mut identity = [0; 24];
    for (slot, value) in identity
        .chunks_exact_mut(8)
        .zip([meta.dev(), meta.ino(), meta.len()])
    {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    Ok(identity)
}

/// Where the dependency zip's central directory starts: the length of its `DepsPart`.
pub fn deps_part_len(deps_zip: &Path) -> Result<u64> {
    let file = File::open(deps_zip).map_err(|e| Error::io(deps_zip, e))?;
    Ok(zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", deps_zip.display())))?
        .central_directory_start())
}

/// The pycs a dependency zip ships: (modules, bytes), read from its listing.
pub fn bytecode_in(deps_zip: &Path) -> Result<(u64, u64)> {
    let file = File::open(deps_zip).map_err(|e| Error::io(deps_zip, e))?;
    let archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", deps_zip.display())))?;
    let (mut modules, mut bytes) = (0, 0);
    // From the central directory only: no entry's own header is read.
    for index in 0..archive.len() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", deps_zip.display())))?;
        if entry.name().is_ok_and(|name| name.ends_with(".pyc")) {
            modules += 1;
            bytes += entry.size();
        }
    }
    Ok((modules, bytes))
}

/// A digest of the code as it would be zipped (names, modes, contents): whether it changed.
pub fn code_digest(code_dir: &Path) -> Result<[u8; 32]> {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for entry in walk(code_dir)? {
        let contents = std::fs::read(&entry.path).map_err(|e| Error::io(&entry.path, e))?;
        digest.update(entry.name.as_bytes());
        digest.update([0]);
        digest.update(entry.mode.to_le_bytes());
        digest.update((contents.len() as u64).to_le_bytes());
        digest.update(&contents);
    }
    Ok(digest.finalize().into())
}

/// The code's part of the zip `package` would make of the code in `code_dir` as it is now,
/// made without copying the dependencies (see `AppendedInMemory`).
pub fn code_part(deps_zip: &Path, code_dir: &Path) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let code = walk(code_dir)?;
    let base = deps_part_len(deps_zip)?;
    let mut deps = File::open(deps_zip).map_err(|e| Error::io(deps_zip, e))?;
    let mut tail = Vec::new();
    deps.seek(std::io::SeekFrom::Start(base))
        .and_then(|_| deps.read_to_end(&mut tail))
        .map_err(|e| Error::io(deps_zip, e))?;
    let zip_error = |e: zip::result::ZipError| {
        Error::internal(format!("cannot append to {}: {e}", deps_zip.display()))
    };
    let appended = AppendedInMemory {
        deps,
        base,
        tail,
        pos: 0,
    };
    let mut writer = ZipWriter::new_append(appended).map_err(zip_error)?;
    add_compressed(&mut writer, &code, deps_zip)?;
    let mut appended = writer.finish().map_err(zip_error)?;
    // The directory and its end record are written last: the zip ends there.
    let end = usize::try_from(appended.pos - base)
        .map_err(|_| Error::internal("the code's part does not fit in memory"))?;
    appended.tail.truncate(end);
    Ok(appended.tail)
}

/// A dependency zip as `append` sees the file it appends to, without the copy: reads below
/// `base` (the dependencies' part, never written) come from the zip, and everything from `base`
/// on (the zip's directory, then the code and the new directory written over it) is in memory.
struct AppendedInMemory {
    deps: File,
    base: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl std::io::Read for AppendedInMemory {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let read = if self.pos < self.base {
            let below = usize::try_from(self.base - self.pos).unwrap_or(usize::MAX);
            let len = buf.len().min(below);
            self.deps.read_at(&mut buf[..len], self.pos)?
        } else {
            let from = usize::try_from(self.pos - self.base).unwrap_or(usize::MAX);
            let rest = self.tail.get(from..).unwrap_or_default();
            let len = buf.len().min(rest.len());
            buf[..len].copy_from_slice(&rest[..len]);
            len
        };
        self.pos += read as u64;
        Ok(read)
    }
}

impl std::io::Write for AppendedInMemory {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let at = self
            .pos
            .checked_sub(self.base)
            .and_then(|at| usize::try_from(at).ok())
            .ok_or_else(|| std::io::Error::other("a write into the dependencies' part"))?;
        let end = at + buf.len();
        if self.tail.len() < end {
            self.tail.resize(end, 0);
        }
        self.tail[at..end].copy_from_slice(buf);
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::io::Seek for AppendedInMemory {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let end = self.base + self.tail.len() as u64;
        let pos = match to {
            std::io::SeekFrom::Start(at) => Some(at),
            std::io::SeekFrom::End(delta) => end.checked_add_signed(delta),
            std::io::SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = pos.ok_or_else(|| std::io::Error::other("a seek before the start"))?;
        Ok(self.pos)
    }
}

/// The top-level modules a dependency zip holds (`pkg/...`, `module.py`, `_ext.cpython-313-...so`),
/// read from its listing; empty when there is no such zip.
pub fn top_level_modules(zip_path: &Path) -> std::collections::BTreeSet<String> {
    let mut modules = std::collections::BTreeSet::new();
    let Ok(file) = std::fs::File::open(zip_path) else {
        return modules;
    };
    let Ok(archive) = zip::ZipArchive::new(file) else {
        return modules;
    };
    for name in archive.file_names() {
        let Ok(name) = name else { continue };
        let (first, rest) = name.split_once('/').unwrap_or((name.as_ref(), ""));
        let module = if !rest.is_empty() {
            first
        } else if let Some(stem) = first.strip_suffix(".py") {
            stem
        } else if first.ends_with(".so") {
            first.split('.').next().unwrap_or_default()
        } else {
            continue;
        };
        if !module.is_empty()
            && !module.contains('.')
            && !module.contains('-')
            && module != "__pycache__"
            && module != "bin"
        {
            modules.insert(module.to_string());
        }
    }
    modules
}

/// Removes the dependency zips (and their facts) nobody used for two weeks.
fn remove_unused_deps_zips(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let unused_for = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok());
        if path.extension().is_some_and(|e| e == "zip")
            && unused_for.is_some_and(|age| age > UNUSED_DEPS_ZIP_LIFETIME)
        {
            // A stale zip only costs disk space; failing the deploy over it would not help.
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("json"));
            let _ = std::fs::remove_file(path.with_extension("part"));
            let _ = std::fs::remove_dir_all(path.with_extension("root"));
        }
    }
}

/// Every file below `root`, sorted by name, as it ships (`walk::Links::Follow`, as sam does).
fn walk(root: &Path) -> Result<Vec<Entry>> {
    crate::walk::walk(root, crate::walk::Links::Follow).map_err(|e| Error::io(root, e))
}

fn options_for(entry: &Entry) -> SimpleFileOptions {
    SimpleFileOptions::DEFAULT
        .compression_method(CompressionMethod::Deflated)
        // Lambda runs the code as another user: every file must be readable by all.
        .unix_permissions((entry.mode & 0o7777) | 0o444)
}

fn compress(entry: &Entry) -> Result<PreparedZipFile> {
    let zip_error = |e: zip::result::ZipError| {
        Error::internal(format!("cannot zip {}: {e}", entry.path.display()))
    };
    let mut builder = ZipFileBuilder::new(&entry.name, options_for(entry)).map_err(zip_error)?;
    let mut file = File::open(&entry.path).map_err(|e| Error::io(&entry.path, e))?;
    std::io::copy(&mut file, &mut builder).map_err(|e| Error::io(&entry.path, e))?;
    builder.finish().map_err(zip_error)
}

/// Compresses the entries on every core and writes them in order: the same bytes for the same
/// files whatever the thread timing.
fn add_compressed<W: Write + std::io::Seek>(
    writer: &mut ZipWriter<W>,
    entries: &[Entry],
    target: &Path,
) -> Result<()> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(entries.len().max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let (sender, receiver) =
            mpsc::sync_channel::<(usize, Result<PreparedZipFile>)>(workers * 8);
        for _ in 0..workers {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = entries.get(index) else {
                        break;
                    };
                    if sender.send((index, compress(entry))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut pending = std::collections::BTreeMap::new();
        let mut written = 0;
        for (index, prepared) in receiver {
            pending.insert(index, prepared);
            while let Some(prepared) = pending.remove(&written) {
                writer.add_prepared_file(prepared?).map_err(|e| {
                    Error::internal(format!("cannot write {}: {e}", target.display()))
                })?;
                written += 1;
            }
        }
        Ok(())
    })
}

/// A new zip at `target`, written to a temporary file beside it and renamed into place.
fn write_new_zip(entries: &[Entry], target: &Path) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    let file = temp.reopen().map_err(|e| Error::io(temp.path(), e))?;
    let mut writer = ZipWriter::new(std::io::BufWriter::new(file));
    add_compressed(&mut writer, entries, target)?;
    writer
        .finish()
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", target.display())))?
        .flush()
        .map_err(|e| Error::io(target, e))?;
    temp.persist(target)
        .map_err(|e| Error::io(target, e.error))?;
    Ok(())
}

/// Adds the entries to the end of an existing zip (only its central directory is rewritten).
fn append(zip_path: &Path, entries: &[Entry]) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(zip_path)
        .map_err(|e| Error::io(zip_path, e))?;
    let mut writer = ZipWriter::new_append(file)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", zip_path.display())))?;
    add_compressed(&mut writer, entries, zip_path)?;
    writer
        .finish()
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", zip_path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn names_and_contents(zip: &Path) -> Vec<(String, String, u32)> {
        let mut archive = zip::ZipArchive::new(File::open(zip).unwrap()).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut file = archive.by_index(i).unwrap();
                let mut text = String::new();
                file.read_to_string(&mut text).unwrap();
                (
                    file.name().unwrap().to_string(),
                    text,
                    file.unix_mode().unwrap(),
                )
            })
            .collect()
    }

    struct Project {
        _root: tempfile::TempDir,
        build: PathBuf,
        artifact: PathBuf,
        code: PathBuf,
        cache: PathBuf,
    }

    fn project() -> Project {
        let root = tempfile::tempdir().unwrap();
        let build = root.path().join(".aws-sam/build");
        let artifact = build.join("AgentFunction");
        let code = root.path().join("src");
        write(&artifact.join("strands/__init__.py"), "dep = 1\n");
        write(&artifact.join("bin/tool"), "#!/bin/sh\n");
        std::fs::set_permissions(artifact.join("bin/tool"), PermissionsExt::from_mode(0o700))
            .unwrap();
        write(&artifact.join("handler.py"), "old handler\n");
        write(&code.join("handler.py"), "new handler\n");
        write(&code.join("agent.py"), "agent = 1\n");
        let cache = root.path().join(".agentdeploy/cache");
        Project {
            _root: root,
            build,
            artifact,
            code,
            cache,
        }
    }

    fn request(p: &Project, hash: &str, fresh: bool) -> PackageRequest {
        PackageRequest {
            build_dir: p.build.clone(),
            artifact_dir: Some(p.artifact.clone()),
            code_dir: p.code.clone(),
            shared: SharedDeps::new(&p.cache, hash),
            strategy: BuildStrategy::Native,
            fresh_build: fresh,
            bytecode: None,
        }
    }

    #[test]
    fn the_zip_holds_the_dependencies_and_the_current_code_once_each() {
        let p = project();
        let zip = package(&request(&p, "h1", true)).unwrap();
        let entries = names_and_contents(&zip);
        let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["bin/tool", "strands/__init__.py", "agent.py", "handler.py"]
        );
        let handler = entries.iter().find(|(n, _, _)| n == "handler.py").unwrap();
        assert_eq!(handler.1, "new handler\n");
        // Readable by everyone, executable bits kept (sam's Lambda permissions).
        let tool = entries.iter().find(|(n, _, _)| n == "bin/tool").unwrap();
        assert_eq!(tool.2 & 0o777, 0o744);
        // The facts: how it was built and the dependencies' unzipped size.
        let facts = SharedDeps::new(&p.cache, "h1").facts().unwrap();
        assert_eq!(facts.strategy, BuildStrategy::Native);
        assert_eq!(
            facts.unzipped_bytes,
            "dep = 1\n".len() as u64 + "#!/bin/sh\n".len() as u64
        );
    }

    #[test]
    fn a_function_zip_starts_with_its_dependency_zip_up_to_that_zip_s_directory() {
        use md5::Digest;
        let p = project();
        let zip = std::fs::read(package(&request(&p, "h1", true)).unwrap()).unwrap();
        let deps_zip = SharedDeps::new(&p.cache, "h1").zip;
        let part = DepsPart::of(&deps_zip).unwrap();
        let deps = std::fs::read(&deps_zip).unwrap();
        assert!(part.len > 0 && part.len < deps.len() as u64);
        let len = part.len as usize;
        assert_eq!(zip[..len], deps[..len]);
        assert_eq!(<[u8; 16]>::from(md5::Md5::digest(&deps[..len])), part.md5);
        // The code's part is the rest, made alike without the build folder, and the digest of
        // the whole follows from the part's.
        let code = code_part(&deps_zip, &p.code).unwrap();
        assert_eq!(code, zip[len..]);
        assert_eq!(
            part.zip_sha256(&code),
            <[u8; 32]>::from(sha2::Sha256::digest(&zip))
        );
        // Kept beside the zip, and read back the same while the zip is the same file.
        assert!(deps_zip.with_extension("part").is_file());
        let again = DepsPart::of(&deps_zip).unwrap();
        assert_eq!((again.len, again.md5), (part.len, part.md5));
        assert_eq!(again.zip_sha256(&code), part.zip_sha256(&code));
        // A new zip (a fresh build) is hashed again.
        std::fs::write(deps_zip.with_extension("part"), b"stale").unwrap();
        let replaced = DepsPart::of(&deps_zip).unwrap();
        assert_eq!(replaced.md5, part.md5);
    }

    #[test]
    fn another_agent_with_the_same_set_needs_no_built_folder() {
        let p = project();
        package(&request(&p, "h1", true)).unwrap();
        let deps_zip = SharedDeps::new(&p.cache, "h1").zip;
        let written = std::fs::read(&deps_zip).unwrap();
        // A second agent: its own code, its own build folder, no sam build of its own.
        let other_code = p.cache.parent().unwrap().join("other/src");
        write(&other_code.join("handler.py"), "other handler\n");
        let other_build = p.cache.parent().unwrap().join("other/.aws-sam/build");
        let zip = package(&PackageRequest {
            build_dir: other_build.clone(),
            artifact_dir: None,
            code_dir: other_code,
            shared: SharedDeps::new(&p.cache, "h1"),
            strategy: BuildStrategy::Native,
            fresh_build: false,
            bytecode: None,
        })
        .unwrap();
        assert_eq!(zip, other_build.join(FUNCTION_ZIP));
        assert_eq!(std::fs::read(&deps_zip).unwrap(), written);
        let entries = names_and_contents(&zip);
        assert!(entries.iter().any(|(n, _, _)| n == "strands/__init__.py"));
        assert!(
            entries
                .iter()
                .any(|(n, t, _)| n == "handler.py" && t == "other handler\n")
        );
        assert!(!entries.iter().any(|(n, _, _)| n == "agent.py"));
        // A set nobody zipped yet cannot come from nowhere.
        let missing = package(&PackageRequest {
            build_dir: other_build,
            artifact_dir: None,
            code_dir: p.code.clone(),
            shared: SharedDeps::new(&p.cache, "h2"),
            strategy: BuildStrategy::Native,
            fresh_build: false,
            bytecode: None,
        });
        assert!(missing.is_err());
    }

    #[test]
    fn a_code_change_reuses_the_dependency_zip_and_a_fresh_build_replaces_it() {
        let p = project();
        package(&request(&p, "h1", true)).unwrap();
        // Remove a dependency from the folder: a reused dependency zip still has it.
        std::fs::remove_file(p.artifact.join("strands/__init__.py")).unwrap();
        write(&p.code.join("agent.py"), "agent = 2\n");
        let zip = package(&request(&p, "h1", false)).unwrap();
        let entries = names_and_contents(&zip);
        assert!(entries.iter().any(|(n, _, _)| n == "strands/__init__.py"));
        assert!(
            entries
                .iter()
                .any(|(n, t, _)| n == "agent.py" && t == "agent = 2\n")
        );

        package(&request(&p, "h1", true)).unwrap();
        let entries = names_and_contents(&p.build.join(FUNCTION_ZIP));
        assert!(!entries.iter().any(|(n, _, _)| n == "strands/__init__.py"));
    }

    #[test]
    fn zips_unused_for_two_weeks_are_removed_when_a_new_one_is_written() {
        let p = project();
        package(&request(&p, "old", true)).unwrap();
        let old = SharedDeps::new(&p.cache, "old").zip;
        let long_ago = SystemTime::now() - Duration::from_secs(15 * 24 * 3600);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        package(&request(&p, "new", true)).unwrap();
        assert!(!old.exists());
        assert!(!old.with_extension("json").exists());
        assert!(SharedDeps::new(&p.cache, "new").facts().is_some());
    }

    #[test]
    fn a_dependency_zip_says_which_top_level_modules_it_holds() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deps.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for name in [
            "strands/__init__.py",
            "six.py",
            "_cffi_backend.cpython-313-x86_64-linux-gnu.so",
            "strands_agents-1.62.0.dist-info/RECORD",
            "bin/normalizer",
            "__pycache__/six.cpython-313.pyc",
        ] {
            zip.start_file(name, SimpleFileOptions::default()).unwrap();
            zip.write_all(b"x").unwrap();
        }
        zip.finish().unwrap();
        let modules: Vec<String> = top_level_modules(&path).into_iter().collect();
        assert_eq!(modules, ["_cffi_backend", "six", "strands"]);
        assert!(top_level_modules(&dir.path().join("none.zip")).is_empty());
        // Its bytecode, counted from the listing: one pyc of one byte.
        assert_eq!(bytecode_in(&path).unwrap(), (1, 1));
    }

    #[test]
    fn the_same_files_give_the_same_bytes() {
        let p = project();
        let first = std::fs::read(package(&request(&p, "h1", true)).unwrap()).unwrap();
        let second = std::fs::read(package(&request(&p, "h1", true)).unwrap()).unwrap();
        assert_eq!(first, second);
        let third = std::fs::read(package(&request(&p, "h1", false)).unwrap()).unwrap();
        assert_eq!(first, third);
    }
}
