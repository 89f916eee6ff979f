//! Storage fixtures shared by the integration tests: a fresh PostgreSQL
//! database per test on the machine's server (dropped with the value), the
//! `psql` client, and a small tmpfs that can be filled up (disk-full tests;
//! mounting needs root, as CI runs).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The maintenance database test databases are created from
/// (`WISP_TEST_POSTGRES` overrides it).
pub fn admin_url() -> String {
    std::env::var("WISP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs a PostgreSQL client tool (Debian's postgresql-client) and returns
/// what it printed, failing the test when it fails.
pub fn client(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs SQL with `psql` on the database at `url`; what it printed.
pub fn psql(url: &str, sql: &str) -> String {
    client("psql", &[url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
}

/// An empty PostgreSQL database of the test's own, dropped with the value.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// A database named after `test` (letters, digits and `_` only).
    pub fn create(test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("wisp_{test}_{}_{nanos}", std::process::id());
        psql(&admin_url(), &format!("CREATE DATABASE {name}"));
        let base = admin_url();
        let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
        let url = format!("{server}/{name}");
        Self { name, url }
    }

    /// Everything the database holds, as `pg_dump --data-only` prints it.
    pub fn dump(&self) -> String {
        client("pg_dump", &["--data-only", &self.url])
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &admin_url(),
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// ENOSPC on Linux.
const ENOSPC: i32 = 28;

/// A small tmpfs (the test runs as root), unmounted and removed on drop.
pub struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    pub fn mount(megabytes: u32) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wisp-small-disk-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mounting a {megabytes} MiB tmpfs (the test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes a file of zeros until the disk is full; its path.
    pub fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last, partial pages too.
        while file.write(&[0u8; 512]).map(|n| n > 0).unwrap_or(false) {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
