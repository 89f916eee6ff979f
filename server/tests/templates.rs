//! The project templates for real: `wisp new` for each template (rust with
//! wstd, python with componentize-py, js with componentize-js), its own
//! build (`wisp apply` runs it), deployed and called through the gateway;
//! and `wisp dev` on a template: it starts a server, serves the project,
//! and after an edit of the source rebuilds and redeploys it.
//!
//! There is no Go template: TinyGo is not installable from the registries
//! this project can use (docs/MANIFEST.md says so). The builds download
//! their toolchains' packages (crates.io, PyPI, npm) the first time.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{wisp, TestServer};

/// A fresh folder for projects.
fn workspace(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wisp-templates-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `wisp new TEMPLATE NAME --dir DIR` (no server needed).
fn new_project(template: &str, name: &str, dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_wisp"))
        .args(["new", template, name, "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wisp new {template}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("wisp.toml").is_file());
    assert!(dir.join("README.md").is_file());
}

/// GETs `url` until it answers 200 with `body`, at most `within`.
async fn wait_for_answer(url: &str, body: &str, within: Duration) -> Duration {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < within {
        if let Ok(r) = reqwest::get(url).await {
            let status = r.status();
            last = format!("{status} {}", r.text().await.unwrap_or_default());
            if status == 200 && last.ends_with(body) {
                return start.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{url} never answered {body:?} within {within:?}; last: {last}");
}

#[tokio::test]
async fn each_template_builds_applies_and_answers_through_the_gateway() {
    let server = TestServer::start().await;
    let root = workspace("all");
    for template in ["rust", "python", "js"] {
        let name = format!("tpl-{template}");
        let dir = root.join(&name);
        new_project(template, &name, &dir);
        let started = Instant::now();
        let manifest = dir.join("wisp.toml");
        let (ok, out, err) = wisp(&server, &["apply", "-f", manifest.to_str().unwrap()]);
        assert!(ok, "{template}: {out}\n{err}");
        assert!(
            out.contains("applied: 2 created, 0 changed, 0 deleted"),
            "{template}: {out}"
        );
        println!(
            "{template}: wisp new + build + apply in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let expected = format!("Hello from {name}!\n");
        let direct = server.fn_url(&format!("/fn/{name}/"));
        wait_for_answer(&direct, &expected, Duration::from_secs(10)).await;
        let route = server.fn_url(&format!("/{name}"));
        wait_for_answer(&route, &expected, Duration::from_secs(10)).await;
        // Applying again builds nothing and changes nothing.
        let (ok, out, err) = wisp(&server, &["apply", "-f", manifest.to_str().unwrap()]);
        assert!(ok && out.contains("no changes"), "{template}: {out}{err}");
        assert!(!err.contains("building"), "{template}: rebuilt: {err}");
    }
    std::fs::remove_dir_all(&root).ok();
}

/// `wisp dev` and the lines it prints, read on a thread.
struct Dev {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Dev {
    fn start(manifest: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wisp"))
            .args(["dev", "-f"])
            .arg(manifest)
            .env_remove("WISP_URL")
            .env_remove("WISP_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Dev {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) containing `text`.
    fn wait_line(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "wisp dev never printed {text:?} within {within:?}:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SIGINT, as Ctrl-C: it stops the server it started.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn wisp_dev_rebuilds_and_redeploys_after_a_source_change() {
    let root = workspace("dev");
    let name = "tpl-dev";
    let dir = root.join(name);
    new_project("rust", name, &dir);
    let mut dev = Dev::start(&dir.join("wisp.toml"));
    let gateway = dev.wait_line("Gateway:", Duration::from_secs(60));
    let gateway = gateway
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let dashboard = dev.seen.iter().find(|l| l.starts_with("Dashboard:"));
    assert!(
        dashboard.is_some_and(|l| l.contains("http://127.0.0.1:")),
        "{:?}",
        dev.seen
    );
    dev.wait_line("ready: application tpl-dev", Duration::from_secs(600));
    let url = format!("{gateway}/fn/{name}/");
    wait_for_answer(&url, "Hello from tpl-dev!\n", Duration::from_secs(10)).await;
    // The call shows in the session's stream.
    dev.wait_line("[tpl-dev]", Duration::from_secs(30));

    let source = dir.join("src/main.rs");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        text.replace("{greeting} from", "{greeting} again from"),
    )
    .unwrap();
    let edited = Instant::now();
    dev.wait_line("changed: src/main.rs", Duration::from_secs(30));
    let took = wait_for_answer(
        &url,
        "Hello again from tpl-dev!\n",
        Duration::from_secs(300),
    )
    .await;
    println!(
        "wisp dev: source edited -> new answer in {:.1} s",
        (edited.elapsed().max(took)).as_secs_f64()
    );
    drop(dev);
    std::fs::remove_dir_all(&root).ok();
}
