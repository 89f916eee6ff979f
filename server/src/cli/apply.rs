//! `wisp apply` and `wisp export`: applications as code from the command
//! line. Apply reads `wisp.toml`, runs each function's build when a source
//! file is newer than its wasm, hashes the wasm, asks the server for the
//! plan (printed like `terraform plan`: + create, ~ change, - delete),
//! uploads only the wasm the server does not have (as versions that are not
//! live yet) and applies the plan as one change set. Export writes the
//! manifest (and the live wasm files) of what is deployed.

use std::collections::BTreeSet;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::Args;
use model::{AppSpec, ApplyPlan, DeployedVersion, FunctionDetail, PlanOp};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::manifest::{escape, FunctionEntry, Loaded, ManifestFile, TriggerEntry};
use super::ClientArgs;

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The manifest.
    #[arg(short = 'f', long = "file", default_value = super::manifest::MANIFEST_FILE)]
    pub file: PathBuf,
    /// Fill variables from this environment (`[environments.NAME]`).
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the application's functions the manifest no longer names.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The application.
    pub application: String,
    /// Folder to write wisp.toml and wasm/ into (default: the
    /// application's name).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Overwrite an existing wisp.toml there.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Folders never searched for sources newer than a build's output.
pub(super) const SKIPPED_DIRS: &[&str] =
    &["target", "node_modules", ".git", "__pycache__", "wisp-data"];
/// Files looked at for a rebuild, at most (a huge tree just rebuilds).
const MAX_SOURCE_FILES: usize = 20_000;

/// Whether `wasm` is missing or older than a file under `dir`.
fn needs_build(dir: &Path, wasm: &Path) -> bool {
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return true;
    };
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_SOURCE_FILES {
                return true;
            }
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_ref()) && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if !name.ends_with(".wasm") {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                if modified > built {
                    return true;
                }
            }
        }
    }
    false
}

/// Runs `command` in `dir` with `sh -c`, its output on stderr.
fn run_build(dir: &Path, command: &str) -> anyhow::Result<()> {
    let stderr = std::io::stderr();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdout(std::process::Stdio::from(
            stderr
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating stderr")?,
        ))
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!(
            "the build {command:?} failed ({status}) in {}",
            dir.display()
        );
    }
    Ok(())
}

/// The plan as `terraform plan` prints one.
fn print_plan(plan: &ApplyPlan) {
    for change in &plan.changes {
        let details = if change.details.is_empty() {
            String::new()
        } else {
            format!("  ({})", change.details.join("; "))
        };
        println!(
            "  {} {} {}{details}",
            change.op.sign(),
            change.object,
            change.name
        );
    }
    for warning in &plan.warnings {
        println!("  ! {warning}");
    }
}

/// `N to create, N to change, N to delete`.
fn counts(plan: &ApplyPlan) -> String {
    let count = |op| plan.changes.iter().filter(|c| c.op == op).count();
    format!(
        "{} to create, {} to change, {} to delete",
        count(PlanOp::Create),
        count(PlanOp::Change),
        count(PlanOp::Delete)
    )
}

pub async fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let options = Converge {
        environment: args.environment.as_deref(),
        dry_run: args.dry_run,
        prune: args.prune,
    };
    converge(&client, &args.file, &options).await.map(drop)
}

/// How [`converge`] runs.
pub(super) struct Converge<'a> {
    pub environment: Option<&'a str>,
    pub dry_run: bool,
    pub prune: bool,
}

/// Builds, plans, uploads and applies the manifest at `file`; answers the
/// application's name and its functions' names.
pub(super) async fn converge(
    client: &Client,
    file: &Path,
    options: &Converge<'_>,
) -> anyhow::Result<(String, Vec<String>)> {
    let loaded = Loaded::read(file)?;
    let (app, functions, mut spec) = loaded.resolve(options.environment)?;
    // The name goes into the URL: only a plain one.
    if !model::is_application_name(&app) {
        return Err(loaded
            .problems(&[model::ManifestProblem {
                path: "application".into(),
                message: "application must be 1-64 letters, digits, '-' or '_'".into(),
            }])
            .into());
    }
    let names: Vec<String> = functions.iter().map(|f| f.name.clone()).collect();

    // Build what changed (each distinct command once), then hash.
    let mut built = BTreeSet::new();
    for f in &functions {
        let Some(command) = &f.build else { continue };
        if built.contains(command) || !needs_build(&loaded.dir, &f.wasm) {
            continue;
        }
        eprintln!("building {}: {command}", f.name);
        run_build(&loaded.dir, command)?;
        built.insert(command.clone());
    }
    let mut wasm = Vec::new();
    let mut missing = Vec::new();
    for (f, spec) in functions.iter().zip(spec.functions.iter_mut()) {
        match std::fs::read(&f.wasm) {
            // Checked here, before anything is uploaded: a later upload
            // refused after an earlier one went up would leave it behind.
            Ok(bytes) if !bytes.starts_with(b"\0asm") => missing.push(model::ManifestProblem {
                path: format!("functions.{}.wasm", f.name),
                message: format!(
                    "{} is not a WebAssembly file (it does not start with \\0asm)",
                    f.wasm.display()
                ),
            }),
            Ok(bytes) => {
                spec.sha256 = hex::encode(Sha256::digest(&bytes));
                wasm.push((f.name.clone(), bytes));
            }
            Err(e) => missing.push(model::ManifestProblem {
                path: format!("functions.{}.wasm", f.name),
                message: format!(
                    "cannot read {}: {e}{}",
                    f.wasm.display(),
                    if f.build.is_none() {
                        " (build it first, or give the function a `build` command)"
                    } else {
                        ""
                    }
                ),
            }),
        }
    }
    if !missing.is_empty() {
        return Err(loaded.problems(&missing).into());
    }

    let query = if options.prune { "?prune=true" } else { "" };
    let plan: ApplyPlan = client
        .post_json(&format!("/api/v1/applications/{app}/plan{query}"), &spec)
        .await?;
    if !plan.problems.is_empty() {
        return Err(loaded.problems(&plan.problems).into());
    }
    let env = options
        .environment
        .map(|e| format!(", environment {e}"))
        .unwrap_or_default();
    if plan.is_empty() {
        for warning in &plan.warnings {
            println!("  ! {warning}");
        }
        println!(
            "no changes: application {app} matches {}{env}",
            file.display()
        );
        return Ok((app, names));
    }
    println!("Plan for application {app} ({}{env}):", file.display());
    print_plan(&plan);
    println!("{}.", counts(&plan));
    if options.dry_run {
        println!("dry run: nothing was changed");
        return Ok((app, names));
    }
    // Functions this apply creates: an upload of one that is refused
    // removes the ones it made, so a refused apply leaves nothing behind.
    let new_functions: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.op == PlanOp::Create && c.object == "function")
        .map(|c| c.name.as_str())
        .collect();
    let mut made = Vec::new();
    for name in &plan.uploads {
        let Some((_, bytes)) = wasm.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let size = bytes.len() as i64;
        let uploaded: anyhow::Result<DeployedVersion> = client
            .post_wasm(
                &format!("/api/v1/functions/{name}/versions?activate=false"),
                bytes.clone(),
            )
            .await
            .with_context(|| format!("uploading the wasm of {name}"));
        let deployed = match uploaded {
            Ok(deployed) => deployed,
            Err(e) => {
                for made in &made {
                    let _ = client.delete(&format!("/api/v1/functions/{made}")).await;
                }
                return Err(e.context("nothing was applied"));
            }
        };
        if new_functions.contains(&name.as_str()) && deployed.version == 1 {
            made.push(name.clone());
        }
        println!(
            "uploaded {name}: version {} ({}, {})",
            deployed.version,
            &deployed.sha256[..12],
            app::format::bytes(size)
        );
    }
    let applied: ApplyPlan = client
        .post_json(&format!("/api/v1/applications/{app}/apply{query}"), &spec)
        .await?;
    let count = |op| applied.changes.iter().filter(|c| c.op == op).count();
    println!(
        "applied: {} created, {} changed, {} deleted",
        count(PlanOp::Create),
        count(PlanOp::Change),
        count(PlanOp::Delete)
    );
    Ok((app, names))
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let app = &args.application;
    let spec: AppSpec = client
        .get_json(&format!("/api/v1/applications/{app}/manifest"))
        .await?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(app));
    let manifest_path = dir.join(super::manifest::MANIFEST_FILE);
    if manifest_path.exists() && !args.force {
        bail!(
            "{} exists; use --force to overwrite it",
            manifest_path.display()
        );
    }
    std::fs::create_dir_all(dir.join("wasm"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut manifest = ManifestFile {
        application: app.clone(),
        ..Default::default()
    };
    for f in &spec.functions {
        // Names become file names here: never trust them to be plain.
        model::validate_function_name(&f.name).map_err(|e| {
            anyhow::anyhow!("the server sent a bad function name {:?}: {e}", f.name)
        })?;
        let detail: FunctionDetail = client
            .get_json(&format!("/api/v1/functions/{}", f.name))
            .await?;
        let version = detail
            .versions
            .iter()
            .find(|v| v.sha256 == f.sha256)
            .with_context(|| format!("function {} has no version {}", f.name, f.sha256))?;
        let bytes = client
            .get_bytes(&format!(
                "/api/v1/functions/{}/versions/{}/wasm",
                f.name, version.version
            ))
            .await?;
        if hex::encode(Sha256::digest(&bytes)) != f.sha256 {
            bail!("the wasm of {} changed while it was downloaded", f.name);
        }
        let relative = format!("wasm/{}.wasm", f.name);
        std::fs::write(dir.join(&relative), &bytes)
            .with_context(|| format!("writing {relative}"))?;
        manifest.functions.insert(
            f.name.clone(),
            FunctionEntry {
                wasm: relative,
                build: None,
                memory_mb: f.memory_mb,
                timeout_ms: f.timeout_ms,
                max_concurrency: f.max_concurrency,
                max_outbound_calls: f.max_outbound_calls,
                env: f.env.iter().map(|(k, v)| (k.clone(), escape(v))).collect(),
                secrets: f.secrets.clone(),
                allowed_hosts: f.allowed_hosts.clone(),
                capture: f.capture,
                capture_sample_percent: f.capture_sample_percent,
            },
        );
    }
    manifest.triggers = spec
        .triggers
        .iter()
        .map(|t| {
            let mut entry = TriggerEntry::from_trigger(t);
            for value in [
                &mut entry.route,
                &mut entry.schedule,
                &mut entry.timezone,
                &mut entry.topic,
                &mut entry.url,
                &mut entry.subject,
                &mut entry.stream,
                &mut entry.group,
            ]
            .into_iter()
            .flatten()
            {
                *value = escape(value);
            }
            entry
        })
        .collect();
    let text = toml::to_string(&manifest).context("writing the manifest")?;
    let header = format!(
        "# Application {app}, exported by `wisp export` from {}.\n\
         # Fields: docs/MANIFEST.md. Apply with `wisp apply -f {}`.\n\n",
        args.client.url,
        manifest_path.display()
    );
    std::fs::write(&manifest_path, header + &text)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    println!(
        "wrote {} ({} functions, {} triggers) and their wasm in {}",
        manifest_path.display(),
        spec.functions.len(),
        spec.triggers.len(),
        dir.join("wasm").display()
    );
    Ok(())
}
