//! The data directory's permissions: the directory itself owner-only (0700)
//! and the SQLite database owner read/write (0600). SQLite gives the `-wal`
//! and `-shm` files it creates the database file's mode, so creating the
//! database with 0600 before SQLite opens it covers all three; files left
//! by an older version with wider modes are narrowed at start.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Creates `data_dir` if missing and makes it and the SQLite files of
/// `database_url` (when it is a file under any directory) private.
pub(crate) fn prepare(data_dir: &Path, database_url: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    restrict(data_dir, 0o700)?;
    if let Some(db) = sqlite_file(database_url) {
        if !db.exists() {
            create_private(&db)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", db.display()));
            if file.exists() {
                restrict(&file, 0o600)?;
            }
        }
    }
    Ok(())
}

/// The file behind a `sqlite://PATH[?options]` URL (not `:memory:`).
fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("making {} private (mode {mode:o})", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn directory_and_database_files_become_private() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wal = dir.join("wisp.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("wisp.db").display());
        prepare(&dir, &url).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("wisp.db")), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(sqlite_file("postgres://x/y"), None);
    }
}
