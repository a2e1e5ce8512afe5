//! Backup and restore of the data directory while the relay serves: `lotse-relay backup --data
//! DIR --to FILE` writes one tar file with a snapshot of the database (`VACUUM INTO`) and every
//! other file of the directory (identity, audit and lookup keys, the audit anchor, the portal's
//! certificate), taken under the audit lock so that the chain and its anchor match; `lotse-relay
//! restore --from FILE --data DIR` unpacks it into a new directory, checks the audit chain there
//! and only then puts the directory in place.

use crate::store::{Store, StoreError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The database file in the data directory; its WAL and shared-memory files, and the audit lock,
/// are never copied (the snapshot replaces them).
const DB: &str = "lotse.db";
const SKIPPED: &[&str] = &["lotse.db", "lotse.db-wal", "lotse.db-shm", "audit.lock"];

/// Most bytes one file of a backup may have when restoring (the database included), and most
/// files: a backup is the relay's own data, but a damaged or foreign file must not fill a disk.
const MAX_FILE: u64 = 16 * 1024 * 1024 * 1024;
const MAX_FILES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

/// What a backup or a restore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The files in it (the database included), by name.
    pub files: Vec<String>,
    /// Audit entries and the chain's newest hash.
    pub audit_entries: i64,
    pub audit_head: String,
}

/// Writes a backup of the relay data in `store`'s directory to `to` (mode 0600; replaced only
/// once complete).
pub async fn backup(store: &Store, to: &Path) -> Result<Summary, BackupError> {
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let work = tempfile::Builder::new()
        .prefix(".lotse-backup")
        .tempdir_in(parent)
        .map_err(io("cannot write in", parent))?;
    let snapshot = work.path().join(DB);
    let (others, (audit_entries, audit_head)) = store
        .snapshot(&snapshot, |dir| {
            // Under the audit lock: the files beside the database, as they are now.
            let mut files = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !entry.file_type()?.is_file() || SKIPPED.contains(&name.as_str()) {
                    continue;
                }
                files.push((name, std::fs::read(entry.path())?));
            }
            files.sort();
            Ok(files)
        })
        .await?;
    let partial = work.path().join("backup.tar");
    {
        let file = private_file(&partial)?;
        let mut tar = tar::Builder::new(file);
        tar.mode(tar::HeaderMode::Deterministic);
        tar.append_path_with_name(&snapshot, DB)
            .map_err(io("cannot write", &partial))?;
        for (name, bytes) in &others {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes.as_slice())
                .map_err(io("cannot write", &partial))?;
        }
        tar.into_inner()
            .and_then(|f| f.sync_all())
            .map_err(io("cannot write", &partial))?;
    }
    std::fs::rename(&partial, to).map_err(io("cannot write", to))?;
    let mut files = vec![DB.to_owned()];
    files.extend(others.into_iter().map(|(n, _)| n));
    Ok(Summary {
        files,
        audit_entries,
        audit_head,
    })
}

/// Restores a backup into `data`, which must not exist yet (or be empty): unpacked beside it,
/// its audit chain verified, then moved into place.
pub async fn restore(from: &Path, data: &Path) -> Result<Summary, BackupError> {
    if data.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::Refused(format!(
            "{} is not empty: restore into a new directory",
            data.display()
        )));
    }
    let parent = data
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
    let work = tempfile::Builder::new()
        .prefix(".lotse-restore")
        .tempdir_in(parent)
        .map_err(io("cannot write in", parent))?;
    let staged = work.path().join("data");
    crate::fsutil::private_dir(&staged).map_err(io("cannot create", &staged))?;
    let file = std::fs::File::open(from).map_err(io("cannot read", from))?;
    let mut archive = tar::Archive::new(file);
    let mut files = Vec::new();
    for entry in archive.entries().map_err(io("cannot read", from))? {
        let mut entry = entry.map_err(io("cannot read", from))?;
        let name = entry
            .path()
            .map_err(io("cannot read", from))?
            .to_string_lossy()
            .into_owned();
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if entry.header().entry_type() != tar::EntryType::Regular || !plain {
            return Err(BackupError::Refused(format!(
                "{} is not a Lotse backup: it holds {name:?}",
                from.display()
            )));
        }
        if entry.size() > MAX_FILE || files.len() >= MAX_FILES || files.contains(&name) {
            return Err(BackupError::Refused(format!(
                "{} is not a Lotse backup: {name:?} is too large, repeated or one file too many",
                from.display()
            )));
        }
        let path = staged.join(&name);
        let mut out = private_file(&path)?;
        std::io::copy(&mut (&mut entry).take(MAX_FILE), &mut out)
            .map_err(io("cannot write", &path))?;
        out.sync_all().map_err(io("cannot write", &path))?;
        files.push(name);
    }
    if !files.iter().any(|f| f == DB) {
        return Err(BackupError::Refused(format!(
            "{} is not a Lotse backup: it has no database",
            from.display()
        )));
    }
    let (audit_entries, audit_head) = {
        let store = Store::open(&staged).await?;
        store.verify_audit().await?;
        let head = store.audit_head().await?;
        store.close().await;
        head
    };
    if data.exists() {
        std::fs::remove_dir(data).map_err(io("cannot replace", data))?;
    }
    std::fs::rename(&staged, data).map_err(io("cannot move into place", data))?;
    files.sort();
    Ok(Summary {
        files,
        audit_entries,
        audit_head,
    })
}

/// A new file readable by this user only.
fn private_file(path: &Path) -> Result<std::fs::File, BackupError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path).map_err(io("cannot create", path))
}
