//! `wisp backup FILE` and `wisp restore FILE --data-dir DIR`: a single-node
//! server's database, secret key and administrator token in one file, taken
//! while the server runs, and put back into a new data directory
//! (platform::backup does the work; this prints what it did).

use std::path::PathBuf;

use clap::Args;
use platform::backup::BackupSummary;

#[derive(Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist; mode 0600: it holds the
    /// secret key).
    pub file: PathBuf,
    /// The server's data directory.
    #[arg(long, env = "WISP_DATA_DIR", default_value = "./wisp-data")]
    pub data_dir: PathBuf,
    /// The server's database URL, when it is not <data-dir>/wisp.db.
    #[arg(long, env = "WISP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The server's secret key, when it is not <data-dir>/secret.key
    /// (prefer the environment variable to the flag).
    #[arg(long, env = "WISP_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<platform::SecretKeyText>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `wisp backup`.
    pub file: PathBuf,
    /// The new data directory to restore into (missing or empty of Wisp
    /// files); start `wisp serve --data-dir` on it afterwards.
    #[arg(long)]
    pub data_dir: PathBuf,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let summary = tokio::task::spawn_blocking(move || {
        platform::backup::backup(
            &args.data_dir,
            args.database_url.as_deref(),
            args.secret_key.as_ref(),
            &args.file,
        )
    })
    .await??;
    println!("backup written to {}", summary.file.display());
    print_summary(&summary);
    println!("it holds the secret key: keep it as safe as the key itself");
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.clone();
    let summary =
        tokio::task::spawn_blocking(move || platform::backup::restore(&args.file, &args.data_dir))
            .await??;
    println!(
        "restored {} into {}",
        summary.file.display(),
        data_dir.display()
    );
    print_summary(&summary);
    println!(
        "start it with: wisp serve --data-dir {}",
        data_dir.display()
    );
    Ok(())
}

fn print_summary(s: &BackupSummary) {
    let taken = chrono::DateTime::from_timestamp_millis(s.taken_at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    println!("  taken at     {taken}");
    println!("  size         {} bytes", s.bytes);
    println!("  functions    {} ({} versions)", s.functions, s.versions);
    println!("  invocations  {}", s.invocations);
    println!("  secrets      {} (key {})", s.secrets, s.key_id);
    println!("  took         {} ms", s.took.as_millis());
}
