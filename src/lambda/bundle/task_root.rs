//! The function's folder as Lambda will have it, from reused dependencies, for the build-time
//! import of new code (`bytecode`): the dependencies, unzipped once per set beside their zip
//! (`<hash>.root/`) and hard-linked, the code copied on top. The folder is kept between builds in
//! `<out-dir>/task-root/` with a list of the code files it holds (`task-root.json`): the next
//! build replaces only those (a code-only change relinks nothing of a 150 MB set). A linked
//! dependency file is never written through, so the cached set stays as it was unzipped. Where
//! links cannot be made (another file system), the zip is unzipped into a scratch folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const FOLDER: &str = "task-root";
const LIST: &str = "task-root.json";

pub(crate) enum TaskRoot {
    Kept(PathBuf),
    Scratch(tempfile::TempDir),
}

/// What the kept folder holds besides the links: the set it was linked from, and the code.
#[derive(Serialize, Deserialize)]
struct Contents {
    deps: PathBuf,
    code: Vec<String>,
}

impl TaskRoot {
    pub(crate) fn prepare(deps_zip: &Path, code_dir: &Path, out_dir: &Path) -> Result<TaskRoot> {
        let kept = unzipped_once(deps_zip)
            .and_then(|deps| refresh(&deps, code_dir, out_dir).map(|()| out_dir.join(FOLDER)));
        match kept {
            Ok(root) => Ok(TaskRoot::Kept(root)),
            Err(err) => {
                tracing::debug!("dependencies unzipped for this build ({err})");
                let root = tempfile::tempdir().map_err(|e| Error::io(&std::env::temp_dir(), e))?;
                unzip(deps_zip, root.path())?;
                copy_over(code_dir, root.path())?;
                Ok(TaskRoot::Scratch(root))
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            TaskRoot::Kept(root) => root,
            TaskRoot::Scratch(root) => root.path(),
        }
    }

    /// A scratch folder is removed while the build goes on (the runtime waits for it before the
    /// process ends); a kept one stays for the next build.
    pub(crate) fn done(self) {
        if let TaskRoot::Scratch(root) = self {
            tokio::task::spawn_blocking(move || drop(root));
        }
    }
}

/// The kept folder brought to the set in `deps` with the code in `code_dir`. Its list is removed
/// first and written last: a build stopped halfway leaves no list, and the next one starts over.
fn refresh(deps: &Path, code_dir: &Path, out_dir: &Path) -> Result<()> {
    let root = out_dir.join(FOLDER);
    let list = out_dir.join(LIST);
    let previous: Option<Contents> = std::fs::read(&list)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if list.exists() {
        std::fs::remove_file(&list).map_err(|e| Error::io(&list, e))?;
    }
    match previous {
        Some(previous) if previous.deps == deps && root.is_dir() => {
            for name in &previous.code {
                restore(deps, &root, name)?;
            }
        }
        _ => {
            if root.symlink_metadata().is_ok() {
                std::fs::remove_dir_all(&root).map_err(|e| Error::io(&root, e))?;
            }
            link_tree(deps, &root)?;
        }
    }
    let code: Vec<String> = crate::walk::walk(code_dir, crate::walk::Links::Follow)
        .map_err(|e| Error::io(code_dir, e))?
        .into_iter()
        .map(|file| file.name)
        .collect();
    copy_over(code_dir, &root)?;
    let contents = Contents {
        deps: deps.to_path_buf(),
        code,
    };
    let text = serde_json::to_vec(&contents).map_err(|e| Error::internal(e.to_string()))?;
    crate::files::write_atomically(&list, &text)
}

/// The last build's code file `name` taken out: the dependency file it covered linked back, and
/// folders it alone made removed (a package folder left empty would still import, as a
/// namespace package, where Lambda has none).
fn restore(deps: &Path, root: &Path, name: &str) -> Result<()> {
    let target = root.join(name);
    if target.symlink_metadata().is_ok() {
        std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
    }
    let covered = deps.join(name);
    if covered.is_file() {
        std::fs::hard_link(&covered, &target).map_err(|e| Error::io(&covered, e))?;
        return Ok(());
    }
    let mut folder = target.parent();
    while let Some(dir) = folder.filter(|dir| *dir != root) {
        // Fails, and stops here, while the folder still holds something.
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        folder = dir.parent();
    }
    Ok(())
}

/// The dependency zip's files, unzipped beside it once (made complete under another name, then
/// renamed into place, so a reader never sees half of it).
pub(crate) fn unzipped_once(deps_zip: &Path) -> Result<PathBuf> {
    let done = deps_zip.with_extension("root");
    if done.is_dir() {
        return Ok(done);
    }
    let cache = deps_zip.parent().unwrap_or(Path::new("."));
    let staging = tempfile::tempdir_in(cache).map_err(|e| Error::io(cache, e))?;
    unzip(deps_zip, staging.path())?;
    let staging = staging.keep();
    if std::fs::rename(&staging, &done).is_err() {
        // Another build put it there first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(done)
}

fn unzip(zip_path: &Path, into: &Path) -> Result<()> {
    let file = std::fs::File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", zip_path.display())))?;
    archive
        .extract(into)
        .map_err(|e| Error::internal(format!("cannot unzip {}: {e}", zip_path.display())))
}

/// Hard links of every file below `from` at the same places below `to`.
fn link_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let files =
        crate::walk::walk(from, crate::walk::Links::Skip).map_err(|e| Error::io(from, e))?;
    for file in files {
        let target = to.join(&file.name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::hard_link(&file.path, &target).map_err(|e| Error::io(&file.path, e))?;
    }
    Ok(())
}

/// The code copied over the dependencies: a file already there is removed first, so a linked
/// dependency file is replaced, never written through (which would change the cached set).
fn copy_over(code_dir: &Path, root: &Path) -> Result<()> {
    for file in crate::walk::walk(code_dir, crate::walk::Links::Follow)
        .map_err(|e| Error::io(code_dir, e))?
    {
        let target = root.join(&file.name);
        if target.symlink_metadata().is_ok() {
            std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
        }
    }
    crate::lambda::bundle::sam::copy_tree(code_dir, root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(path: &Path, files: &[(&str, &str)]) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, text) in files {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }

    /// A cache holding the dependency zip `abc.zip` (which has a `handler.py` the code covers),
    /// and an out-dir.
    fn dependencies() -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
        let cache = tempfile::tempdir().unwrap();
        let deps_zip = cache.path().join("abc.zip");
        zip_of(
            &deps_zip,
            &[("strands/__init__.py", "deps"), ("handler.py", "old")],
        );
        (cache, tempfile::tempdir().unwrap(), deps_zip)
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn the_task_root_links_the_dependencies_unzipped_once_and_the_code_never_writes_through() {
        let (cache, out, deps_zip) = dependencies();
        let code = tempfile::tempdir().unwrap();
        std::fs::write(code.path().join("handler.py"), "new code").unwrap();

        let root = TaskRoot::prepare(&deps_zip, code.path(), out.path()).unwrap();
        assert!(matches!(root, TaskRoot::Kept(_)));
        assert_eq!(read(&root.path().join("strands/__init__.py")), "deps");
        assert_eq!(read(&root.path().join("handler.py")), "new code");
        let unzipped = cache.path().join("abc.root");
        assert_eq!(
            read(&unzipped.join("handler.py")),
            "old",
            "the cached set is untouched by the code copied over it"
        );
        // The next build links the same unzipped set (no second unzip).
        let marker = unzipped.join("strands/__init__.py");
        let before = std::fs::metadata(&marker).unwrap().modified().unwrap();
        std::fs::remove_file(&deps_zip).unwrap();
        let again = TaskRoot::prepare(&deps_zip, code.path(), out.path());
        assert!(
            again.is_ok(),
            "linked from the unzipped set: {:?}",
            again.err().map(|e| e.to_string())
        );
        assert_eq!(
            std::fs::metadata(&marker).unwrap().modified().unwrap(),
            before
        );
    }

    #[test]
    fn the_kept_task_root_holds_exactly_this_build_s_code() {
        let (cache, out, deps_zip) = dependencies();
        let code = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = code.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("handler.py", "v1");
        write("tools/search.py", "search v1");
        let root = TaskRoot::prepare(&deps_zip, code.path(), out.path()).unwrap();
        let root = root.path().to_path_buf();
        assert_eq!(read(&root.join("tools/search.py")), "search v1");

        // The next build: the handler and a new module changed, the local package deleted.
        std::fs::remove_dir_all(code.path().join("tools")).unwrap();
        std::fs::remove_file(code.path().join("handler.py")).unwrap();
        write("agent.py", "v2");
        TaskRoot::prepare(&deps_zip, code.path(), out.path()).unwrap();
        assert_eq!(read(&root.join("agent.py")), "v2");
        assert_eq!(
            read(&root.join("handler.py")),
            "old",
            "the dependency file the code covered is back"
        );
        assert!(
            !root.join("tools").exists(),
            "a deleted package leaves no folder to import as a namespace package"
        );
        assert_eq!(read(&root.join("strands/__init__.py")), "deps");
        assert_eq!(read(&cache.path().join("abc.root/handler.py")), "old");

        // A build stopped halfway (no list): the next one starts over.
        std::fs::remove_file(out.path().join(LIST)).unwrap();
        std::fs::write(root.join("stray.py"), "left").unwrap();
        TaskRoot::prepare(&deps_zip, code.path(), out.path()).unwrap();
        assert!(!root.join("stray.py").exists());
        assert_eq!(read(&root.join("agent.py")), "v2");
    }
}
