//! What this server is and how it is looked after, for its administrators
//! (`GET /api/v1/server`, the Settings page): version, uptime, data
//! directory, database and its size, the cluster's nodes, the server's
//! retention period and the scheduled backups on disk.

use std::path::PathBuf;
use std::time::Duration;

use model::{BackupFile, BackupSchedule, NodeState, ServerInfo};

use crate::db::Backend;
use crate::{Platform, PlatformError, Principal};

/// The `--backup-every` schedule, as the server runs it (shown only).
#[derive(Clone, Debug)]
pub struct BackupScheduleConfig {
    pub every: Duration,
    pub dir: PathBuf,
    pub keep: u64,
}

impl Platform {
    /// This server's facts (server administrators).
    pub async fn server_info(&self, who: &Principal) -> Result<ServerInfo, PlatformError> {
        who.require_admin()?;
        let nodes = self.nodes(who).await?;
        let up = nodes
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Up)
            .count() as u32;
        let started_at = self.inner.started_at;
        Ok(ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            uptime_secs: (chrono::Utc::now() - started_at).num_seconds().max(0) as u64,
            node_id: self.inner.node_id.clone(),
            data_dir: self.inner.config.data_dir.display().to_string(),
            database: match self.inner.backend {
                Backend::Sqlite => "SQLite",
                Backend::Postgres => "PostgreSQL",
            }
            .to_string(),
            database_bytes: self.database_bytes().await?,
            nodes: (nodes.nodes.len() as u32).max(1),
            nodes_up: up.max(1),
            retention_days: self.server_retention_days().await?,
            backups: self
                .inner
                .config
                .backup_schedule
                .as_ref()
                .map(scheduled_backups),
        })
    }
}

/// The schedule and the scheduled backups in its directory, newest first.
fn scheduled_backups(schedule: &BackupScheduleConfig) -> BackupSchedule {
    let mut files: Vec<BackupFile> = std::fs::read_dir(&schedule.dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_str()?.to_string();
                    // Only the schedule's own names (`wisp-<UTC time>.backup`).
                    let time = name.strip_prefix("wisp-")?.strip_suffix(".backup")?;
                    chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.3fZ").ok()?;
                    let meta = entry.metadata().ok()?;
                    Some(BackupFile {
                        name,
                        bytes: meta.len(),
                        modified_at: meta.modified().ok()?.into(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| b.name.cmp(&a.name));
    BackupSchedule {
        every_secs: schedule.every.as_secs(),
        dir: schedule.dir.display().to_string(),
        keep: schedule.keep,
        files,
    }
}
