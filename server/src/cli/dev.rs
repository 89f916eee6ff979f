//! `wisp dev`: the local loop. Applies the project's manifest to a Wisp
//! server — the one `--url` names, or one it starts itself on free ports
//! with a temporary data directory — then watches the project folder and,
//! on every change, rebuilds what changed and applies again, while it
//! streams the application's calls and their logs. Ctrl-C stops it (and the
//! server it started).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::Args;
use futures::StreamExt;
use model::InvocationRecord;

use super::apply::{converge, Converge, SKIPPED_DIRS};
use super::client::Client;
use super::ClientArgs;

#[derive(Args, Debug)]
pub struct DevArgs {
    /// The manifest.
    #[arg(short = 'f', long = "file", default_value = super::manifest::MANIFEST_FILE)]
    pub file: PathBuf,
    /// Fill variables from this environment (`[environments.NAME]`).
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// A running server's control-plane URL; without it `wisp dev` starts
    /// one for the session.
    #[arg(long, env = "WISP_URL")]
    pub url: Option<String>,
    /// API token for `--url`.
    #[arg(long, env = "WISP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Data directory of the server `wisp dev` starts (default: a new
    /// temporary one, removed on exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// How often the folder is looked at.
const POLL: Duration = Duration::from_millis(400);

/// Path -> (modified, size) of the project's sources.
type Snapshot = BTreeMap<PathBuf, (SystemTime, u64)>;

/// The sources under `dir` as they are now.
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with('.') {
                    stack.push(entry.path());
                }
            } else if !name.ends_with(".wasm") {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.insert(entry.path(), (modified, meta.len()));
            }
        }
    }
    files
}

/// A server `wisp dev` started: killed (and its temporary data removed)
/// when dropped.
struct LocalServer {
    child: tokio::process::Child,
    temporary: Option<PathBuf>,
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(dir) = &self.temporary {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Makes the child get SIGTERM when `wisp dev` dies, even killed outright
/// (Linux `PR_SET_PDEATHSIG`), so no server is left behind.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut tokio::process::Command) {
    // SAFETY: runs in the child between fork and exec; prctl is
    // async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// Starts `wisp serve` on free loopback ports in `data_dir` (or a new
/// temporary folder); answers it with its control-plane URL, gateway URL
/// and admin token.
async fn start_server(
    data_dir: Option<&Path>,
) -> anyhow::Result<(LocalServer, String, String, String)> {
    let (dir, temporary) = match data_dir {
        Some(dir) => (dir.to_path_buf(), None),
        None => {
            let dir = std::env::temp_dir().join(format!(
                "wisp-dev-{}-{}",
                std::process::id(),
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default()
            ));
            (dir.clone(), Some(dir))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let addresses = dir.join("addresses.json");
    let _ = std::fs::remove_file(&addresses);
    let log = std::fs::File::create(dir.join("server.log")).context("creating server.log")?;
    let exe = std::env::current_exe().context("finding the wisp binary")?;
    let mut command = tokio::process::Command::new(exe);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--gateway",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    die_with_parent(&mut command);
    let child = command.spawn().context("starting wisp serve")?;
    let mut server = LocalServer { child, temporary };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&addresses) {
            if !text.is_empty() {
                break text;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            bail!(
                "wisp serve exited ({status}); see {}",
                dir.join("server.log").display()
            );
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "wisp serve did not start within 60 s; see {}",
                dir.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let addresses: serde_json::Value =
        serde_json::from_str(&text).context("reading addresses.json")?;
    let listen = addresses["listen"]
        .as_str()
        .context("addresses.json: listen")?;
    let gateway = addresses["gateway"]
        .as_str()
        .context("addresses.json: gateway")?;
    let token = std::fs::read_to_string(dir.join("admin-token"))
        .context("reading the admin token")?
        .trim()
        .to_string();
    Ok((
        server,
        format!("http://{listen}"),
        format!("http://{gateway}"),
        token,
    ))
}

/// Prints the calls of `functions` (and their log lines) as they are
/// recorded, until the stream ends.
async fn stream_calls(client: Client, functions: std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let Ok(mut stream) = client.get_stream("/api/v1/invocations/stream").await else {
        eprintln!("(the live log stream could not be opened)");
        return;
    };
    let mut buffer = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(data) = super::client::next_event_data(&mut buffer) {
            let Ok(r) = serde_json::from_str::<InvocationRecord>(&data) else {
                continue;
            };
            let ours = functions
                .lock()
                .map(|names| names.contains(&r.function))
                .unwrap_or(true);
            if ours {
                println!(
                    "[{}] {} {} {} -> {} {} in {:.1} ms",
                    r.function,
                    r.trigger,
                    r.method,
                    r.path,
                    r.status_code
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.outcome,
                    r.duration_ms
                );
                if let Some(e) = &r.error {
                    println!("[{}]   error: {e}", r.function);
                }
                for line in r.logs.lines() {
                    println!("[{}]   | {line}", r.function);
                }
            }
        }
    }
}

pub async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let file = args.file.clone();
    if !file.exists() {
        bail!(
            "no {} here: create a project with `wisp new <template> <name>` or pass -f",
            file.display()
        );
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let (_server, url, token) = match &args.url {
        Some(url) => (None, url.clone(), args.token.clone()),
        None => {
            let (server, url, gateway, token) = start_server(args.data_dir.as_deref()).await?;
            println!("Started wisp serve for this session.");
            println!(
                "Dashboard: {url}  (user admin; API token in the data directory's admin-token)"
            );
            println!("Gateway:   {gateway}");
            (Some(server), url, Some(token))
        }
    };
    let client_args = ClientArgs {
        url: url.clone(),
        token,
    };
    let client = Client::new(&client_args)?;
    if args.url.is_some() {
        println!("Dashboard: {url}");
    }
    let options = Converge {
        environment: args.environment.as_deref(),
        dry_run: false,
        prune: false,
    };
    let functions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    tokio::spawn(stream_calls(Client::new(&client_args)?, functions.clone()));

    // Ctrl-C (and a plain `kill`) end the session, also in the middle of a
    // build: the streams keep a signal that arrives while nobody waits.
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut seen = snapshot(&dir);
    let mut apply_now = true;
    println!("Watching {} (Ctrl-C to stop)", dir.display());
    loop {
        if apply_now {
            apply_now = false;
            match converge(&client, &file, &options).await {
                Ok((app, names)) => {
                    if let Ok(mut list) = functions.lock() {
                        *list = names.clone();
                    }
                    println!(
                        "ready: application {app} ({}) — waiting for changes",
                        names.join(", ")
                    );
                }
                Err(e) => eprintln!("error: {e:#}\n(waiting for the next change)"),
            }
            // What the build wrote is not a change to react to.
            seen = snapshot(&dir);
        }
        tokio::select! {
            _ = interrupt.recv() => {
                println!("stopping");
                return Ok(());
            }
            _ = terminate.recv() => {
                println!("stopping");
                return Ok(());
            }
            _ = tokio::time::sleep(POLL) => {}
        }
        let now = snapshot(&dir);
        if now != seen {
            // Let an editor finish writing, then take what is there.
            tokio::time::sleep(Duration::from_millis(150)).await;
            let changed: Vec<String> = snapshot(&dir)
                .iter()
                .filter(|(path, stamp)| seen.get(*path) != Some(stamp))
                .filter_map(|(path, _)| path.strip_prefix(&dir).ok())
                .map(|p| p.display().to_string())
                .collect();
            if !changed.is_empty() {
                println!("changed: {}", changed.join(", "));
            }
            seen = snapshot(&dir);
            apply_now = true;
        }
    }
}
