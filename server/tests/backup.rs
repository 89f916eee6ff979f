//! `wisp backup` and `wisp restore` over the real CLI and a real server: a
//! backup taken while calls and events flow restores into a new data
//! directory that serves the same functions, versions, triggers and
//! secrets, holds exactly the calls the backup held, and reports the same
//! costs; damaged, foreign and misplaced backups are refused with what is
//! wrong, and nothing is written.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{wisp, TestServer};
use serde_json::{json, Value};

const SECRET: &str = "backup-secret-value-7d21";

/// Runs `wisp` with `args` (no server needed): (success, stdout, stderr).
fn wisp_local(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wisp"))
        .args(args)
        .env_remove("WISP_SECRET_KEY")
        .env_remove("WISP_DATABASE_URL")
        .output()
        .expect("running wisp");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// The number after `label` in `wisp backup`'s summary.
fn summary_number(out: &str, label: &str) -> i64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
}

/// What must survive a restore, without the parts that move with time.
async fn state(server: &TestServer) -> Value {
    let functions = server.get_json("/api/v1/functions").await;
    let mut names: Vec<Value> = functions
        .as_array()
        .unwrap()
        .iter()
        .map(|f| json!([f["name"], f["live_version"]]))
        .collect();
    names.sort_by_key(|v| v.to_string());
    let mut versions = Vec::new();
    for f in ["env", "hello"] {
        let detail = server.get_json(&format!("/api/v1/functions/{f}")).await;
        versions.push(json!([
            f,
            detail["versions"].as_array().map(|v| v.len()),
            detail["secrets"]
        ]));
    }
    let triggers = server.get_json("/api/v1/triggers").await;
    let mut triggers: Vec<Value> = triggers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!([t["id"], t["kind"], t["function"], t["topic"], t["route"]]))
        .collect();
    triggers.sort_by_key(|v| v.to_string());
    json!({"functions": names, "versions": versions, "triggers": triggers})
}

/// The month's cost report without the fields that depend on when it is asked.
async fn costs(server: &TestServer) -> Value {
    let report = server.get_json("/api/v1/costs").await;
    json!({
        "functions": report["functions"],
        "applications": report["applications"],
        "totals": report["totals"],
        "daily": report["daily"],
    })
}

async fn read_secret(server: &TestServer) -> String {
    let r = server
        .http
        .get(server.fn_url("/fn/env/?name=TOKEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Waits until the server has recorded every call it answered (the count
/// of the month's requests stops moving).
async fn settled_requests(server: &TestServer) -> i64 {
    let mut last = -1;
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = costs(server).await["totals"]["requests"].as_i64().unwrap();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_the_same_server() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    server.deploy("hello", "hello").await;
    server.deploy("env", "env").await;
    server.deploy("echo", "echo").await;
    server
        .configure(
            "env",
            json!({"secrets": {"TOKEN": SECRET}, "env": {"PLAIN": "1"}}),
        )
        .await;
    server
        .create_trigger(json!({"kind": "topic", "function": "hello", "topic": "orders"}))
        .await;
    server
        .create_trigger(json!({"kind": "http", "function": "hello", "route": "/greet"}))
        .await;
    assert_eq!(read_secret(&server).await, SECRET);

    // Calls and events flow while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (http, gateway, api, token, stop) = (
            server.http.clone(),
            server.gateway.clone(),
            server.api.clone(),
            server.token.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut sent = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let call = http.get(format!("{gateway}/greet")).send().await.unwrap();
                assert_eq!(call.status(), 200);
                let event = http
                    .post(format!("{api}/api/v1/topics/orders"))
                    .bearer_auth(&token)
                    .body(format!("order {sent}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(event.status(), 202);
                sent += 1;
            }
            sent
        })
    };
    // A call whose log line the restored server's log search must find.
    let logged = {
        let r = server
            .http
            .get(server.fn_url("/fn/echo/orders/quokka42"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        common::invocation_id(&r)
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("wisp.backup");
    let (ok, out, err) = wisp_local(&["backup", path(&file), "--data-dir", path(&server.data_dir)]);
    assert!(ok, "wisp backup: {out}{err}");
    assert!(out.contains("backup written to"), "{out}");
    let backed_up_invocations = summary_number(&out, "invocations");
    assert!(backed_up_invocations > 0, "{out}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();
    assert!(sent > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup holds the secret key: owner-only");
    }

    // A backup never overwrites a file.
    let (ok, _, err) = wisp_local(&["backup", path(&file), "--data-dir", path(&server.data_dir)]);
    assert!(!ok && err.contains("exists already"), "{err}");

    // A key that is not the server's is refused when the backup is taken,
    // not found out when it is needed.
    let other_key = "ab".repeat(32);
    let wrong = backups.path().join("wrong-key.backup");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wisp"))
        .args(["backup", path(&wrong), "--data-dir", path(&server.data_dir)])
        .env("WISP_SECRET_KEY", &other_key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && err.contains("not the server's"),
        "{err}"
    );
    assert!(!wrong.exists());
    let leftovers: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Restored into a new data directory, it serves what the server served
    // when the backup was taken.
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let (ok, out, err) = wisp_local(&["restore", path(&file), "--data-dir", path(&target)]);
    assert!(ok, "wisp restore: {out}{err}");
    assert_eq!(summary_number(&out, "invocations"), backed_up_invocations);
    let in_restored: i64 = {
        let db = rusqlite::Connection::open(target.join("wisp.db")).unwrap();
        db.query_row("SELECT COUNT(*) FROM invocations", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        in_restored, backed_up_invocations,
        "the calls the backup held"
    );
    for file in ["secret.key", "admin-token", "node-id"] {
        assert_eq!(
            std::fs::read_to_string(target.join(file)).unwrap().trim(),
            std::fs::read_to_string(server.data_dir.join(file))
                .unwrap()
                .trim(),
            "{file} restored"
        );
    }
    let restored = TestServer::start_in(target.clone()).await;
    assert_eq!(state(&restored).await, state(&server).await);
    assert_eq!(
        read_secret(&restored).await,
        SECRET,
        "the secret still opens"
    );
    let found = restored.get_json("/api/v1/logs?q=quokka42").await;
    let hits: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        hits,
        [logged.as_str()],
        "log search on the restored server: {found}"
    );
    drop(restored);

    // Taken when nothing moves, a restore reports exactly the same costs.
    let before = settled_requests(&server).await;
    let quiet = backups.path().join("quiet.backup");
    let (ok, out, err) =
        wisp_local(&["backup", path(&quiet), "--data-dir", path(&server.data_dir)]);
    assert!(ok, "{out}{err}");
    let quiet_dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = wisp_local(&[
        "restore",
        path(&quiet),
        "--data-dir",
        path(&quiet_dir.path().join("data")),
    ]);
    assert!(ok, "{out}{err}");
    let again = TestServer::start_in(quiet_dir.path().join("data")).await;
    assert_eq!(costs(&again).await, costs(&server).await);
    assert_eq!(costs(&again).await["totals"]["requests"], json!(before));
    let (ok, out, _) = wisp(&again, &["functions"]);
    assert!(ok && out.contains("hello") && out.contains("env"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_foreign_and_misplaced_backups_are_refused() {
    let server = TestServer::start().await;
    server.deploy("hello", "hello").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("good.backup");
    let (ok, out, err) = wisp_local(&["backup", path(&file), "--data-dir", path(&server.data_dir)]);
    assert!(ok, "{out}{err}");

    // Not over a running server's data.
    let (ok, _, err) = wisp_local(&["restore", path(&file), "--data-dir", path(&server.data_dir)]);
    assert!(!ok && err.contains("already holds a Wisp server"), "{err}");

    // A damaged copy: every page after the first scribbled over.
    let mut bytes = std::fs::read(&file).unwrap();
    for b in bytes.iter_mut().skip(4096).step_by(7) {
        *b ^= 0x5a;
    }
    let damaged = dir.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = dir.path().join("from-damaged");
    let (ok, _, err) = wisp_local(&["restore", path(&damaged), "--data-dir", path(&target)]);
    assert!(!ok && err.contains("damaged"), "{err}");
    assert!(!target.exists(), "a refused restore writes nothing");

    // Intact SQLite, but a function's stored code no longer has its hash.
    let tampered = dir.path().join("tampered.backup");
    std::fs::copy(&file, &tampered).unwrap();
    rusqlite::Connection::open(&tampered)
        .unwrap()
        .execute_batch("UPDATE wasm_blobs SET bytes = zeroblob(16)")
        .unwrap();
    let (ok, _, err) = wisp_local(&["restore", path(&tampered), "--data-dir", path(&target)]);
    assert!(!ok && err.contains("does not match its hash"), "{err}");
    assert!(!target.exists(), "a refused restore writes nothing");

    // A data directory left with another database's write-ahead log (its
    // wisp.db and key removed by hand): SQLite would replay that log over
    // the restored database.
    let stale = dir.path().join("stale");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("wisp.db-wal"), b"another database's log").unwrap();
    let (ok, _, err) = wisp_local(&["restore", path(&file), "--data-dir", path(&stale)]);
    assert!(!ok && err.contains("wisp.db-wal"), "{err}");

    // A SQLite file that is not a backup.
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let target = dir.path().join("from-foreign");
    let (ok, _, err) = wisp_local(&["restore", path(&foreign), "--data-dir", path(&target)]);
    assert!(!ok && err.contains("not a Wisp backup"), "{err}");

    // Not a file at all, and a data directory without a server.
    let (ok, _, err) = wisp_local(&[
        "restore",
        "/nonexistent.backup",
        "--data-dir",
        path(&target),
    ]);
    assert!(!ok && err.contains("no backup file"), "{err}");
    let (ok, _, err) = wisp_local(&[
        "backup",
        path(&dir.path().join("x.backup")),
        "--data-dir",
        path(&dir.path().join("empty")),
    ]);
    assert!(!ok && err.contains("no Wisp database"), "{err}");

    // PostgreSQL is backed up with pg_dump; the CLI says so.
    let (ok, _, err) = wisp_local(&[
        "backup",
        path(&dir.path().join("pg.backup")),
        "--database-url",
        "postgres://127.0.0.1/test",
    ]);
    assert!(!ok && err.contains("pg_dump"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let server = TestServer::start_with(&[
        "--backup-every",
        "1s",
        "--backup-keep",
        "2",
        "--backup-dir",
        path(&backups),
    ])
    .await;
    server.deploy("hello", "hello").await;
    let list = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(&backups)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "backup"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    // Files the schedule did not write are never removed, whatever their
    // names (one sorts after every time stamp).
    std::fs::create_dir_all(&backups).unwrap();
    for mine in ["wisp-mine.backup", "wisp-0mine.backup"] {
        std::fs::write(backups.join(mine), "precious").unwrap();
    }
    // Four periods: at least three backups taken, two kept.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let files: Vec<_> = list()
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("mine"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}\n{}", server.log());
    for mine in ["wisp-mine.backup", "wisp-0mine.backup"] {
        assert_eq!(
            std::fs::read_to_string(backups.join(mine)).unwrap(),
            "precious"
        );
    }
    assert!(
        server.log().matches("scheduled backup written").count() >= 3,
        "{}",
        server.log()
    );
    // Administrators see the schedule and the backups it wrote.
    let info: Value = server
        .get("/api/v1/server")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["database"], "SQLite", "{info}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert!(info["database_bytes"].as_u64().unwrap() > 0);
    assert_eq!(info["nodes_up"], 1);
    assert_eq!(info["backups"]["every_secs"], 1);
    assert_eq!(info["backups"]["keep"], 2);
    let listed: Vec<&str> = info["backups"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        (2..=3).contains(&listed.len()) && listed.iter().all(|n| !n.contains("mine")),
        "{listed:?}"
    );

    let newest = files.last().unwrap();
    let target = dir.path().join("restored");
    let (ok, out, err) = wisp_local(&["restore", path(newest), "--data-dir", path(&target)]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("functions    1 (1 versions)"), "{out}");

    // A period that is not one is refused before the server starts.
    let (ok, _, err) = wisp_local(&["serve", "--backup-every", "soon"]);
    assert!(!ok && err.contains("give a period"), "{err}");
}
