//! Scheduled backups (`--backup-every`): a `wisp backup` of this server's
//! own data directory at each period, written to the backup directory as
//! `wisp-<UTC time>.backup`, keeping the newest `--backup-keep`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::ServeArgs;

/// What the schedule needs from the serve flags.
pub struct Schedule {
    every: Duration,
    dir: PathBuf,
    keep: usize,
    data_dir: PathBuf,
    database_url: Option<String>,
    secret_key: Option<platform::SecretKeyText>,
}

impl Schedule {
    /// The schedule the flags ask for, if any; refused on PostgreSQL (its
    /// backups are pg_dump's) before the server starts.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Option<Self>> {
        let Some(every) = args.backup_every else {
            if args.backup_dir.is_some() {
                tracing::warn!(
                    "--backup-dir is set but --backup-every is not: no scheduled backups"
                );
            }
            return Ok(None);
        };
        platform::backup::database_file(&args.data_dir, args.database_url.as_deref())?;
        Ok(Some(Self {
            every,
            dir: args
                .backup_dir
                .clone()
                .unwrap_or_else(|| args.data_dir.join("backups")),
            keep: args.backup_keep as usize,
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone(),
            secret_key: args.secret_key.clone(),
        }))
    }

    /// The schedule as administrators see it (Settings, `GET /api/v1/server`).
    pub fn shown(&self) -> platform::BackupScheduleConfig {
        platform::BackupScheduleConfig {
            every: self.every,
            dir: self.dir.clone(),
            keep: self.keep as u64,
        }
    }

    /// Runs the schedule until the process ends (first backup one period
    /// after start).
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + self.every, self.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let this = self.clone_settings();
                match tokio::task::spawn_blocking(move || this.take()).await {
                    Ok(Ok(file)) => {
                        tracing::info!(file = %file.display(), "scheduled backup written")
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %format!("{e:#}"), "scheduled backup failed")
                    }
                    Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
                }
            }
        });
    }

    fn clone_settings(&self) -> Self {
        Self {
            every: self.every,
            dir: self.dir.clone(),
            keep: self.keep,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            secret_key: self.secret_key.clone(),
        }
    }

    /// One backup, then the oldest beyond `keep` removed.
    fn take(&self) -> anyhow::Result<PathBuf> {
        use anyhow::Context as _;
        create_private_dir(&self.dir)
            .with_context(|| format!("preparing the backup directory {}", self.dir.display()))?;
        let name = format!("wisp-{}.backup", chrono::Utc::now().format(NAME_TIME));
        let file = self.dir.join(name);
        platform::backup::backup(
            &self.data_dir,
            self.database_url.as_deref(),
            self.secret_key.as_ref(),
            &file,
        )?;
        // Only files this schedule names (`wisp-<time>.backup`) are ever
        // removed, oldest first by the time in the name.
        let mut kept: Vec<(chrono::NaiveDateTime, PathBuf)> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .filter_map(|p| Some((scheduled_time(p.file_name()?.to_str()?)?, p)))
            .collect();
        kept.sort();
        let excess = kept.len().saturating_sub(self.keep);
        for (_, old) in &kept[..excess] {
            if let Err(e) = std::fs::remove_file(old) {
                tracing::warn!(file = %old.display(), error = %e, "removing an old backup failed");
            }
        }
        Ok(file)
    }
}

/// The time in a scheduled backup's name.
const NAME_TIME: &str = "%Y%m%dT%H%M%S%.3fZ";

/// When the scheduled backup named `name` was taken; `None` for any other
/// name (never removed).
fn scheduled_time(name: &str) -> Option<chrono::NaiveDateTime> {
    let time = name.strip_prefix("wisp-")?.strip_suffix(".backup")?;
    chrono::NaiveDateTime::parse_from_str(time, NAME_TIME).ok()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `--backup-every`: a count of s, m, h or d (`30m`, `24h`, `7d`).
pub fn parse_period(text: &str) -> Result<Duration, String> {
    let seconds = match text.strip_suffix('s') {
        Some(count) => count.parse::<u64>().ok().filter(|n| *n > 0),
        None => crate::api::parse_window(text).and_then(|d| u64::try_from(d.num_seconds()).ok()),
    };
    seconds
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: give a period such as 30m, 24h or 7d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheduled_names_are_scheduled_backups() {
        let name = format!("wisp-{}.backup", chrono::Utc::now().format(NAME_TIME));
        assert!(scheduled_time(&name).is_some(), "{name}");
        for other in [
            "wisp-mine.backup",
            "wisp-0mine.backup",
            "wisp-20261205T150632.591Z.backup.partial-12",
            "other.backup",
            "wisp-20261205T150632.591Z.backup.bak",
        ] {
            assert!(scheduled_time(other).is_none(), "{other}");
        }
    }
}
