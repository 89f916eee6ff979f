//! Applications as code over the real CLI and REST API: `wisp apply` of a
//! four-function application (HTTP route, cron, topic, NATS, env from a
//! variable, a secret name), idempotence, an edit that yields exactly its
//! plan, `--prune`, `wisp export` round-tripping, and manifests with errors
//! refused before anything changes, each with its file, line and field.

mod common;

use std::path::{Path, PathBuf};

use common::{functions_dir, wisp, TestServer};
use serde_json::Value;

/// A project folder with the fixture functions' wasm in `wasm/`.
fn project(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wisp-apply-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("wasm")).unwrap();
    for name in ["hello", "echo", "env", "relay"] {
        std::fs::copy(
            functions_dir().join(format!("{name}.wasm")),
            dir.join(format!("wasm/{name}.wasm")),
        )
        .unwrap();
    }
    dir
}

/// The shop manifest; `subject` keeps NATS subjects apart between runs.
fn shop(subject: &str) -> String {
    format!(
        r#"application = "shop"

[variables]
greeting = "hello"

[environments.staging.variables]
greeting = "hi from staging"

[functions.shop-api]
wasm = "wasm/hello.wasm"
memory_mb = 64

[functions.shop-worker]
wasm = "wasm/echo.wasm"

[functions.shop-report]
wasm = "wasm/env.wasm"
env = {{ GREETING = "${{greeting}}" }}
secrets = ["API_KEY"]

[functions.shop-ingest]
wasm = "wasm/relay.wasm"

[[triggers]]
kind = "http"
function = "shop-api"
route = "/shop/api"
methods = ["GET"]

[[triggers]]
kind = "cron"
function = "shop-report"
schedule = "0 3 * * *"
timezone = "Europe/Paris"

[[triggers]]
kind = "topic"
function = "shop-worker"
topic = "shop-orders"

[[triggers]]
kind = "nats"
function = "shop-ingest"
url = "nats://127.0.0.1:4222"
subject = "{subject}"
"#
    )
}

fn apply(server: &TestServer, manifest: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["apply", "-f", manifest.to_str().unwrap()];
    args.extend_from_slice(extra);
    wisp(server, &args)
}

/// The plan's change lines (`+ function shop-api ...`), in order.
fn plan_lines(out: &str) -> Vec<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("+ ") || l.starts_with("~ ") || l.starts_with("- "))
        .map(str::to_string)
        .collect()
}

async fn triggers(server: &TestServer) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = server
        .get_json("/api/v1/triggers")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["function"].as_str().unwrap().to_string(),
                t["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn an_application_converges_to_its_manifest_and_exports_round_trip() {
    let server = TestServer::start_with(&["--broker-hosts", "127.0.0.1"]).await;
    let dir = project("shop");
    let manifest = dir.join("wisp.toml");
    let subject = format!("wapply{}.orders", std::process::id());
    std::fs::write(&manifest, shop(&subject)).unwrap();

    // The first apply creates everything, in one change set.
    let (ok, out, err) = apply(&server, &manifest, &["--env", "staging"]);
    assert!(ok, "{out}{err}");
    let lines = plan_lines(&out);
    assert_eq!(lines.len(), 8, "{out}");
    for name in ["shop-api", "shop-worker", "shop-report", "shop-ingest"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("+ function {name}"))),
            "{out}"
        );
    }
    assert!(
        out.contains("8 to create, 0 to change, 0 to delete."),
        "{out}"
    );
    assert!(out.contains("secret API_KEY is not set"), "{out}");
    assert!(
        out.contains("applied: 8 created, 0 changed, 0 deleted"),
        "{out}"
    );

    // Live through the gateway: the route, and the env from the variable.
    let answer = reqwest::get(format!("{}/shop/api", server.gateway))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "Hello from Wisp!\n");
    let greeting = reqwest::get(format!("{}/fn/shop-report/?name=GREETING", server.gateway))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(greeting, "hi from staging");
    // The application's calls can be searched on their own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let hits = server
            .get_json("/api/v1/logs?q=GREETING&application=shop")
            .await["hits"]
            .as_array()
            .map_or(0, Vec::len);
        if hits == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log hit in application shop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let elsewhere = server
        .get_json("/api/v1/logs?q=GREETING&application=blog")
        .await;
    assert_eq!(
        elsewhere["hits"].as_array().map(Vec::len),
        Some(0),
        "{elsewhere}"
    );
    let overview = server.get_json("/api/v1/overview?application=shop").await;
    assert_eq!(overview["functions"], 4, "{overview}");
    let graph = server.get_json("/api/v1/topology?application=shop").await;
    let function_nodes = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "function")
        .count();
    assert_eq!(function_nodes, 4, "{graph}");
    let detail = server.get_json("/api/v1/functions/shop-api").await;
    assert_eq!(detail["config"]["memory_mb"], 64);
    assert_eq!(detail["config"]["application"], "shop");
    assert_eq!(
        triggers(&server).await,
        vec![
            ("shop-api".into(), "http".into()),
            ("shop-ingest".into(), "nats".into()),
            ("shop-report".into(), "cron".into()),
            ("shop-worker".into(), "topic".into()),
        ]
    );

    // A second apply changes nothing and says so.
    let (ok, out, err) = apply(&server, &manifest, &["--env", "staging"]);
    assert!(ok, "{err}");
    assert!(out.contains("no changes"), "{out}");
    assert!(plan_lines(&out).is_empty(), "{out}");

    // Without the environment the variable's default differs: one change.
    let (ok, out, _) = apply(&server, &manifest, &["--dry-run"]);
    assert!(ok);
    assert_eq!(
        plan_lines(&out),
        vec!["~ function shop-report  (env ~GREETING)"],
        "{out}"
    );
    assert!(out.contains("dry run: nothing was changed"), "{out}");

    // An edit: one function changed (memory and code), one trigger
    // removed, one added — exactly that plan, then that result.
    let edited = shop(&subject)
        .replace("memory_mb = 64", "memory_mb = 96")
        .replace("wasm = \"wasm/hello.wasm\"", "wasm = \"wasm/echo.wasm\"")
        .replace(
            "[[triggers]]\nkind = \"cron\"\nfunction = \"shop-report\"\nschedule = \"0 3 * * *\"\ntimezone = \"Europe/Paris\"\n\n",
            "",
        )
        + "\n[[triggers]]\nkind = \"http\"\nfunction = \"shop-worker\"\nroute = \"/shop/echo\"\n";
    std::fs::write(&manifest, &edited).unwrap();
    let (ok, out, err) = apply(&server, &manifest, &["--env", "staging"]);
    assert!(ok, "{out}{err}");
    let lines = plan_lines(&out);
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("~ function shop-api  (code "), "{out}");
    assert!(lines[0].ends_with("; memory_mb 64 -> 96)"), "{out}");
    assert_eq!(
        lines[1],
        "- trigger cron 0 3 * * * (Europe/Paris) -> shop-report"
    );
    assert_eq!(lines[2], "+ trigger http ANY /shop/echo -> shop-worker");
    assert!(out.contains("uploaded shop-api: version 2"), "{out}");
    assert!(
        out.contains("applied: 1 created, 1 changed, 1 deleted"),
        "{out}"
    );
    let echoed = reqwest::Client::new()
        .post(format!("{}/shop/echo", server.gateway))
        .body("ping")
        .send()
        .await
        .unwrap();
    let echoed: Value = echoed.json().await.unwrap();
    assert_eq!(echoed["body"], "ping", "{echoed}");
    assert_eq!(
        triggers(&server).await,
        vec![
            ("shop-api".into(), "http".into()),
            ("shop-ingest".into(), "nats".into()),
            ("shop-worker".into(), "http".into()),
            ("shop-worker".into(), "topic".into()),
        ]
    );

    // A function the manifest no longer names is kept, then pruned.
    let start = edited.find("[functions.shop-ingest]").unwrap();
    let without_ingest = edited[..start].to_string()
        + &edited[edited.find("[[triggers]]").unwrap()..]
            .replace(
                &format!(
                    "[[triggers]]\nkind = \"nats\"\nfunction = \"shop-ingest\"\nurl = \"nats://127.0.0.1:4222\"\nsubject = \"{subject}\"\n"
                ),
                "",
            );
    std::fs::write(&manifest, &without_ingest).unwrap();
    let (ok, out, err) = apply(&server, &manifest, &["--env", "staging"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("no changes"), "{out}");
    assert!(
        out.contains("function shop-ingest of application shop is not in the manifest"),
        "{out}"
    );
    let (ok, out, err) = apply(&server, &manifest, &["--env", "staging", "--prune"]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        plan_lines(&out),
        vec![
            format!("- trigger nats {subject} on nats://127.0.0.1:4222 -> shop-ingest  (with function shop-ingest)"),
            "- function shop-ingest  (not in the manifest; --prune)".to_string(),
        ],
        "{out}"
    );
    let gone = server
        .get("/api/v1/functions/shop-ingest")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    // The secret's value is set apart from the manifest; the plan stops
    // warning about it.
    let set = reqwest::Client::new()
        .patch(server.api_url("/api/v1/functions/shop-report"))
        .bearer_auth(&server.token)
        .json(&serde_json::json!({"secrets": {"API_KEY": "s3cret-value"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let (ok, out, _) = apply(&server, &manifest, &["--env", "staging"]);
    assert!(
        ok && out.contains("no changes") && !out.contains("API_KEY"),
        "{out}"
    );

    // Export writes what is deployed; applying it changes nothing.
    let exported = dir.join("exported");
    let (ok, out, err) = wisp(
        &server,
        &["export", "shop", "--dir", exported.to_str().unwrap()],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("3 functions, 3 triggers"), "{out}");
    let text = std::fs::read_to_string(exported.join("wisp.toml")).unwrap();
    assert!(text.contains("GREETING = \"hi from staging\""), "{text}");
    assert!(text.contains("secrets = [\"API_KEY\"]"), "{text}");
    assert!(!text.contains("s3cret-value"), "{text}");
    let (ok, out, err) = apply(&server, &exported.join("wisp.toml"), &[]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("no changes"), "{out}");
    let (ok, _, err) = wisp(
        &server,
        &["export", "shop", "--dir", exported.to_str().unwrap()],
    );
    assert!(!ok && err.contains("--force"), "{err}");

    // Each apply is one audit record.
    let audit = server.get_json("/api/v1/audit?limit=200").await;
    let applies: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "apply")
        .collect();
    assert_eq!(applies.len(), 3, "{audit}");
    assert!(applies.iter().all(|e| e["target"] == "application shop"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[tokio::test]
async fn a_manifest_with_errors_is_refused_before_anything_changes() {
    let server = TestServer::start().await;
    let dir = project("bad");
    let manifest = dir.join("wisp.toml");
    let good = r#"application = "bad"

[functions.bad-api]
wasm = "wasm/hello.wasm"

[[triggers]]
kind = "http"
function = "bad-api"
route = "/bad/api"

[[triggers]]
kind = "cron"
function = "bad-api"
schedule = "*/5 * * * *"
"#;
    std::fs::write(&manifest, good).unwrap();
    let (ok, out, err) = apply(&server, &manifest, &[]);
    assert!(ok, "{out}{err}");
    let before = (
        server.get_json("/api/v1/functions/bad-api").await["config"].clone(),
        triggers(&server).await,
    );
    let path = manifest.display().to_string();

    let cases: Vec<(String, &str, &str)> = vec![
        (
            good.replace(
                "wasm = \"wasm/hello.wasm\"",
                "wasm = \"wasm/hello.wasm\"\nmemroy_mb = 64",
            ),
            "memroy_mb",
            "functions.bad-api",
        ),
        (
            good.replace("*/5 * * * *", "*/5 * *"),
            "*/5 * *",
            "triggers[1].schedule",
        ),
        (
            good.replace("wasm/hello.wasm", "wasm/missing.wasm"),
            "wasm/missing.wasm",
            "functions.bad-api.wasm",
        ),
        (
            good.replace(
                "function = \"bad-api\"\nroute",
                "function = \"bad-web\"\nroute",
            ),
            "bad-web",
            "triggers[0].function",
        ),
    ];
    for (text, needle, field) in cases {
        std::fs::write(&manifest, &text).unwrap();
        let (ok, out, err) = apply(&server, &manifest, &[]);
        assert!(!ok, "accepted:\n{text}\n{out}");
        let line = line_of(&text, needle);
        let place = format!("{path}:{line}: {field}");
        assert!(err.contains(&place), "expected {place} in:\n{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert!(plan_lines(&out).is_empty(), "{out}");
    }
    // A file that is not WebAssembly is refused before any upload: the new
    // function beside it is not created either.
    std::fs::write(dir.join("wasm/notes.wasm"), "not wasm at all\n").unwrap();
    let text = good.to_string()
        + "\n[functions.bad-new]\nwasm = \"wasm/echo.wasm\"\n\n[functions.bad-text]\nwasm = \"wasm/notes.wasm\"\n";
    std::fs::write(&manifest, &text).unwrap();
    let (ok, _, err) = apply(&server, &manifest, &[]);
    assert!(!ok, "accepted a text file");
    let place = format!(
        "{path}:{}: functions.bad-text.wasm",
        line_of(&text, "notes.wasm")
    );
    assert!(
        err.contains(&place) && err.contains("not a WebAssembly file"),
        "{err}"
    );
    let missing = server
        .get("/api/v1/functions/bad-new")
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        404,
        "an upload went up before the refusal"
    );

    let after = (
        server.get_json("/api/v1/functions/bad-api").await["config"].clone(),
        triggers(&server).await,
    );
    assert_eq!(before, after);
    std::fs::remove_dir_all(&dir).ok();
}
