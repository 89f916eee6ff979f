//! Backup and restore of a single-node (SQLite) server: one file holding a
//! consistent copy of the database (SQLite's `VACUUM INTO`, taken while the
//! server runs: a read transaction, so calls and events go on) plus what the
//! data directory holds beside it that the database needs: the secret key
//! (without it every stored secret and capture is lost), the
//! administrator's token and the node identity its job leases name. The extra files travel inside the copy, in a
//! `wisp_backup` table that restore reads and drops, so a backup is one
//! SQLite file that `PRAGMA integrity_check` vouches for. PostgreSQL
//! databases are backed up with pg_dump instead (docs/OPERATIONS.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rusqlite::{Connection, OpenFlags, OptionalExtension as _};

use crate::queue::NODE_ID_FILE;
use crate::secrets::{parse_key, SecretBox, SecretKeyText, SECRET_KEY_FILE};

/// The database file of a data directory (the default database URL).
pub const DATABASE_FILE: &str = "wisp.db";
/// The administrator's token file of a data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";
/// The files a restore writes into the data directory.
const RESTORED_FILES: [&str; 4] = [
    DATABASE_FILE,
    SECRET_KEY_FILE,
    ADMIN_TOKEN_FILE,
    NODE_ID_FILE,
];
/// What a backup file says it is (its format can change later).
const FORMAT: &str = "wisp-backup-1";

/// What a backup or restore did.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub file: PathBuf,
    pub bytes: u64,
    pub functions: i64,
    pub versions: i64,
    pub invocations: i64,
    pub secrets: i64,
    /// The public fingerprint of the secret key it holds.
    pub key_id: String,
    /// When the copy was taken (ms since the Unix epoch).
    pub taken_at_ms: i64,
    pub took: Duration,
}

/// Where a server keeps its database: `data_dir/wisp.db` unless
/// `database_url` names another SQLite file. PostgreSQL is refused with
/// what to do instead.
pub fn database_file(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<PathBuf> {
    let Some(url) = database_url else {
        return Ok(data_dir.join(DATABASE_FILE));
    };
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        bail!(
            "this server keeps its data in PostgreSQL: back it up with pg_dump and keep the \
             secret key (WISP_SECRET_KEY or <data-dir>/{SECRET_KEY_FILE}) beside the dump \
             (docs/OPERATIONS.md, \"Backup and restore\")"
        );
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or_default())
        .filter(|path| !path.is_empty() && !path.contains(":memory:"))
        .with_context(|| format!("{url:?} is not a SQLite database file"))?;
    Ok(PathBuf::from(path))
}

/// Writes a backup of the server whose data directory is `data_dir` to
/// `file` (which must not exist). Safe while the server runs.
pub fn backup(
    data_dir: &Path,
    database_url: Option<&str>,
    secret_key: Option<&SecretKeyText>,
    file: &Path,
) -> anyhow::Result<BackupSummary> {
    let started = Instant::now();
    let database = database_file(data_dir, database_url)?;
    if !database.is_file() {
        bail!(
            "no Wisp database at {} (give the server's --data-dir, or its --database-url)",
            database.display()
        );
    }
    let key = match secret_key {
        Some(text) => text.expose().to_string(),
        None => {
            let path = data_dir.join(SECRET_KEY_FILE);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading the secret key {} (a backup without it loses every secret; if the \
                     server takes its key from WISP_SECRET_KEY, set it for this command too)",
                    path.display()
                )
            })?
        }
    };
    let key_bytes = parse_key(&key).map_err(anyhow::Error::msg)?;
    let key_id = SecretBox::new(&key_bytes).key_id().to_string();
    let admin_token = std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE)).ok();
    // The restored server keeps the identity its job leases name, so it
    // takes back at once the jobs that were running (not after the leases).
    let node_id = std::fs::read_to_string(data_dir.join(NODE_ID_FILE)).ok();
    if file.exists() {
        bail!(
            "{} exists already: choose a new file name (a backup never overwrites one)",
            file.display()
        );
    }
    // Written beside the target and renamed into place when complete: an
    // interrupted backup never leaves a file that looks like one.
    let partial = partial_name(file);
    create_private(&partial)?;
    let result = (|| {
        let source = Connection::open_with_flags(
            &database,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("opening {}", database.display()))?;
        source.busy_timeout(Duration::from_secs(30))?;
        let taken_at_ms = now_ms();
        source
            .execute(
                "VACUUM INTO ?1",
                [partial.to_str().context("a backup path must be UTF-8")?],
            )
            .with_context(|| format!("copying {}", database.display()))?;
        drop(source);
        let copy = Connection::open(&partial)?;
        // The log search index refers to invocation rows by rowid, which a
        // VACUUM may renumber (the table has no INTEGER PRIMARY KEY):
        // rebuilt from the copied rows, it matches them whatever happened.
        let indexed: bool = copy.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'invocations_fts'",
            [],
            |r| r.get(0),
        )?;
        if indexed {
            copy.execute_batch("INSERT INTO invocations_fts (invocations_fts) VALUES ('rebuild')")
                .context("rebuilding the log search index of the copy")?;
        }
        copy.execute_batch(
            "CREATE TABLE wisp_backup (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        )?;
        let mut put = copy.prepare("INSERT INTO wisp_backup (name, value) VALUES (?1, ?2)")?;
        put.execute(["format", FORMAT])?;
        put.execute(["wisp_version", env!("CARGO_PKG_VERSION")])?;
        put.execute(["taken_at_ms", &taken_at_ms.to_string()])?;
        put.execute(["secret_key", key.trim()])?;
        put.execute(["key_id", &key_id])?;
        if let Some(token) = &admin_token {
            put.execute(["admin_token", token.trim()])?;
        }
        if let Some(node_id) = &node_id {
            put.execute(["node_id", node_id.trim()])?;
        }
        drop(put);
        sealed_with(&copy, &key_id).context(
            "the secret key given is not the server's (WISP_SECRET_KEY or <data-dir>/secret.key)",
        )?;
        let summary = summarise(&copy, &partial, key_id.clone(), taken_at_ms, started)?;
        copy.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&partial)?.sync_all()?;
        Ok(summary)
    })();
    match result {
        Ok(mut summary) => {
            // A link, not a rename: never over a file that appeared meanwhile
            // (another backup to the same name).
            let placed = std::fs::hard_link(&partial, file)
                .with_context(|| format!("moving the backup to {}", file.display()));
            let _ = std::fs::remove_file(&partial);
            placed?;
            summary.bytes = std::fs::metadata(file)?.len();
            summary.file = file.to_path_buf();
            summary.took = started.elapsed();
            Ok(summary)
        }
        Err(e) => {
            remove_partial(&partial);
            Err(e)
        }
    }
}

/// Restores backup `file` into `data_dir` (new or empty of Wisp files): the
/// database, the secret key and the administrator's token. The backup is
/// checked first (a SQLite file that passes its integrity check, a Wisp
/// backup, a key that opens its secrets); nothing is written if it fails.
pub fn restore(file: &Path, data_dir: &Path) -> anyhow::Result<BackupSummary> {
    let started = Instant::now();
    let side_files = ["wisp.db-wal", "wisp.db-shm", "wisp.db-journal"];
    for existing in RESTORED_FILES.iter().chain(&side_files) {
        if data_dir.join(existing).exists() {
            bail!(
                "{} already holds a Wisp server ({existing}): restore into a new, empty data \
                 directory",
                data_dir.display()
            );
        }
    }
    if !file.is_file() {
        bail!("no backup file at {}", file.display());
    }
    if std::fs::metadata(file)?.len() == 0 {
        bail!("{} is empty: not a Wisp backup", file.display());
    }
    let created = !data_dir.exists();
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    crate::data_dir::prepare(data_dir, "sqlite::memory:")?;
    let database = data_dir.join(DATABASE_FILE);
    let partial = partial_name(&database);
    create_private(&partial)?;
    let result = (|| {
        std::fs::copy(file, &partial)
            .with_context(|| format!("copying {} into {}", file.display(), data_dir.display()))?;
        let copy = Connection::open(&partial)?;
        check(&copy, file)?;
        let value = |name: &str| -> anyhow::Result<Option<String>> {
            Ok(copy
                .query_row(
                    "SELECT value FROM wisp_backup WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?)
        };
        let key = value("secret_key")?.context("the backup holds no secret key")?;
        let key_bytes = parse_key(&key)
            .map_err(|e| anyhow::anyhow!("the backup's secret key is damaged: {e}"))?;
        let key_id = SecretBox::new(&key_bytes).key_id().to_string();
        sealed_with(&copy, &key_id).context("the backup's key does not fit its data")?;
        blobs_intact(&copy, file)?;
        let taken_at_ms = value("taken_at_ms")?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        let admin_token = value("admin_token")?;
        let node_id = value("node_id")?;
        copy.execute_batch("DROP TABLE wisp_backup")?;
        let summary = summarise(&copy, file, key_id, taken_at_ms, started)?;
        copy.close().map_err(|(_, e)| e)?;
        write_private(
            &data_dir.join(SECRET_KEY_FILE),
            &format!("{}\n", key.trim()),
        )?;
        if let Some(token) = admin_token {
            write_private(
                &data_dir.join(ADMIN_TOKEN_FILE),
                &format!("{}\n", token.trim()),
            )?;
        }
        if let Some(node_id) = node_id {
            write_private(
                &data_dir.join(NODE_ID_FILE),
                &format!("{}\n", node_id.trim()),
            )?;
        }
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, &database)?;
        Ok(summary)
    })();
    if result.is_err() {
        // None of them was there before (checked above).
        remove_partial(&partial);
        for written in RESTORED_FILES {
            let _ = std::fs::remove_file(data_dir.join(written));
        }
        if created {
            let _ = std::fs::remove_dir(data_dir);
        }
    }
    result
}

/// A backup file: intact, and one of ours.
fn check(copy: &Connection, file: &Path) -> anyhow::Result<()> {
    let damaged = |e: rusqlite::Error| {
        anyhow::anyhow!("{} is damaged or not a Wisp backup: {e}", file.display())
    };
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(damaged)?;
    if integrity != "ok" {
        bail!(
            "{} is damaged (SQLite integrity check: {integrity})",
            file.display()
        );
    }
    let format: Option<String> = copy
        .query_row(
            "SELECT value FROM wisp_backup WHERE name = 'format'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|_| {
            anyhow::anyhow!(
                "{} is a SQLite database but not a Wisp backup (made by `wisp backup`)",
                file.display()
            )
        })?;
    match format.as_deref() {
        Some(FORMAT) => Ok(()),
        None => bail!(
            "{} names no backup format: it is damaged or not made by `wisp backup`",
            file.display()
        ),
        Some(other) => bail!(
            "{} is a backup of format {other:?}, which this version ({}) does not read",
            file.display(),
            env!("CARGO_PKG_VERSION")
        ),
    }
}

/// Every sealed value (secrets, captures) was sealed with key `key_id`.
fn sealed_with(db: &Connection, key_id: &str) -> anyhow::Result<()> {
    for (table, what) in [
        ("function_secrets", "stored secret(s)"),
        ("captures", "replay capture(s)"),
    ] {
        let exists: bool = db.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        let foreign: i64 = db.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE key_id <> ?1"),
            [key_id],
            |r| r.get(0),
        )?;
        if foreign > 0 {
            bail!("{foreign} {what} were sealed with another key (they would not open)");
        }
    }
    Ok(())
}

/// Every stored wasm file still has the SHA-256 it is stored under (the
/// integrity check covers SQLite's structure, not the bytes in it).
fn blobs_intact(db: &Connection, file: &Path) -> anyhow::Result<()> {
    use sha2::{Digest as _, Sha256};
    let mut blobs = db.prepare("SELECT sha256, bytes FROM wasm_blobs")?;
    let mut rows = blobs.query([])?;
    while let Some(row) = rows.next()? {
        let sha256: String = row.get(0)?;
        let bytes: Vec<u8> = row.get(1)?;
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            bail!(
                "{} is damaged: the stored function file {sha256} does not match its hash",
                file.display()
            );
        }
    }
    Ok(())
}

fn summarise(
    db: &Connection,
    file: &Path,
    key_id: String,
    taken_at_ms: i64,
    started: Instant,
) -> anyhow::Result<BackupSummary> {
    let count = |table: &str| -> rusqlite::Result<i64> {
        db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
    };
    Ok(BackupSummary {
        file: file.to_path_buf(),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or_default(),
        functions: count("functions")?,
        versions: count("function_versions")?,
        invocations: count("invocations")?,
        secrets: count("function_secrets")?,
        key_id,
        taken_at_ms,
        took: started.elapsed(),
    })
}

/// A partial file and what SQLite keeps beside it while writing it.
fn remove_partial(partial: &Path) {
    let _ = std::fs::remove_file(partial);
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut side = partial.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
}

/// `FILE.partial-<pid>`: one per process, so two backups to the same name
/// never write into one file.
fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(name)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// An empty file only its owner can read (0600).
fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .with_context(|| format!("creating {}", path.display()))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    create_private(path)?;
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
        .with_context(|| format!("writing {}", path.display()))
}
