//! Functions and their versions: upload (validate, compile, store once by
//! content hash), list, describe, configure, move the `live` alias, delete,
//! and load what is live at start.

use bytes::Bytes;
use model::{
    DeployedVersion, FunctionConfig, FunctionConfigPatch, FunctionDetail, FunctionVersion,
};
use runtime::Runtime;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::cluster::Change;
use crate::deploy_progress::{code_tier, compile_detail, DeployProgress};
use crate::registry::LiveFunction;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Stores a blob once per content hash.
const BLOB_INSERT_SQL: &str =
    "INSERT INTO wasm_blobs (sha256, size_bytes, kind, bytes, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING";

fn config_from_row(row: &AnyRow) -> Result<FunctionConfig, PlatformError> {
    let env_json: String = row.try_get("env_json")?;
    let hosts_json: String = row.try_get("allowed_hosts_json")?;
    Ok(FunctionConfig {
        memory_mb: row.try_get::<i64, _>("memory_mb")? as u32,
        timeout_ms: row.try_get::<i64, _>("timeout_ms")? as u64,
        max_concurrency: row.try_get::<i64, _>("max_concurrency")? as u32,
        env: serde_json::from_str(&env_json).map_err(anyhow::Error::from)?,
        allowed_hosts: serde_json::from_str(&hosts_json).map_err(anyhow::Error::from)?,
        application: row.try_get("application")?,
        max_outbound_calls: row.try_get::<i64, _>("max_outbound_calls")? as u32,
        capture: model::CaptureMode::parse(&row.try_get::<String, _>("capture")?)
            .map_err(anyhow::Error::from)?,
        capture_sample_percent: row.try_get::<i64, _>("capture_sample_percent")? as u32,
    })
}

/// The first problem of a configuration (the rules live in `model`, shared
/// with the dashboard's form).
fn validate_config(c: &FunctionConfig) -> Result<(), PlatformError> {
    match model::config_problems(c).into_iter().next() {
        Some(problem) => Err(PlatformError::invalid_field(problem.field, problem.message)),
        None => Ok(()),
    }
}

fn version_from_row(row: &AnyRow, live: Option<i64>) -> Result<FunctionVersion, PlatformError> {
    let version: i64 = row.try_get("version")?;
    Ok(FunctionVersion {
        version,
        sha256: row.try_get("sha256")?,
        kind: row.try_get("kind")?,
        size_bytes: row.try_get("size_bytes")?,
        created_at: from_ms(row.try_get("created_at")?),
        live: live == Some(version),
    })
}

impl Platform {
    /// Uploads a new immutable version of `name` (creating the function for
    /// `team_id` if new; a name another team owns is a `conflict`). The wasm
    /// is validated before anything is stored; its blob is written while it
    /// compiles (and removed again if the compile fails), its version only
    /// once it compiled.
    pub(crate) async fn deploy(
        &self,
        team_id: i64,
        name: &str,
        wasm: Bytes,
        activate: bool,
        progress: &DeployProgress,
    ) -> Result<DeployedVersion, PlatformError> {
        let validating = progress.start("validate");
        model::validate_function_name(name).map_err(PlatformError::invalid)?;
        let limit = self.inner.config.max_upload_bytes;
        if wasm.len() as u64 > limit {
            return Err(PlatformError::TooLarge {
                size: wasm.len() as u64,
                limit,
            });
        }
        let invalid = |e: runtime::ValidationError| PlatformError::InvalidWasm {
            message: e.to_string(),
        };
        let kind = Runtime::validate(&wasm).map_err(invalid)?;
        self.claim_function_name(team_id, name).await?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        progress.done(
            validating,
            format!("a {kind}, sha256 {}", sha256.get(..12).unwrap_or_default()),
        );
        let compiling = progress.start("compile");
        let kind_str = kind.to_string();
        let size = wasm.len() as i64;
        // The blob is written while the code compiles (a 17.5 MiB component
        // takes a few hundred ms to store): neither waits for the other.
        let (prepared, blob) = tokio::join!(
            self.inner.runtime.prepare(&wasm, &sha256),
            self.store_blob(&sha256, &kind_str, &wasm),
        );
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                if let Ok(true) = blob {
                    self.forget_blob(&sha256).await;
                }
                return Err(invalid(error));
            }
        };
        blob?;
        progress.done(compiling, compile_detail(&prepared));
        let going_live = progress.start("live");
        let code = code_tier(&prepared.tier());

        let _guard = self.inner.deploy_lock.lock().await;
        let now = self.inner.clock.now_ms();
        let mut tx = self.inner.db.begin().await?;
        // Version numbers are counted per function across the cluster.
        self.cluster_lock(&mut tx, &format!("deploy:{name}"))
            .await?;
        let defaults = FunctionConfig::default();
        sqlx::query(
            "INSERT INTO functions (name, created_at, updated_at, live_version, memory_mb, timeout_ms, \
             max_concurrency, env_json, allowed_hosts_json) \
             VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .bind(now)
        .bind(i64::from(defaults.memory_mb))
        .bind(defaults.timeout_ms as i64)
        .bind(i64::from(defaults.max_concurrency))
        .bind("{}")
        .bind("[]")
        .execute(&mut *tx)
        .await?;
        // (The write above comes first: on SQLite it makes this transaction
        // the writer at once, waiting its turn, where a read first would be
        // refused as "database is locked" when another connection wrote
        // after that read: a third of 100,000 uploads, 4 at a time, were.)
        // Stored above, unless a delete's clean-up (or a failed upload of
        // the same bytes) removed it since: then it is written again here.
        let stored = sqlx::query("SELECT 1 AS present FROM wasm_blobs WHERE sha256 = $1")
            .bind(&sha256)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !stored {
            sqlx::query(BLOB_INSERT_SQL)
                .bind(&sha256)
                .bind(size)
                .bind(&kind_str)
                .bind(wasm.to_vec())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let version: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM function_versions WHERE function_name = $1",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?
        .try_get("next")?;
        sqlx::query(
            "INSERT INTO function_versions (function_name, version, sha256, kind, size_bytes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(version)
        .bind(&sha256)
        .bind(&kind_str)
        .bind(size)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if activate {
            sqlx::query(
                "UPDATE functions SET live_version = $1, \
                 updated_at = CASE WHEN updated_at >= $2 THEN updated_at + 1 ELSE $2 END \
                 WHERE name = $3",
            )
            .bind(version)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let config_row = sqlx::query("SELECT * FROM functions WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        let config = config_from_row(&config_row)?;
        tx.commit().await?;
        if activate {
            let secrets = self.open_secrets(name).await?;
            let stamp: i64 = config_row.try_get("updated_at")?;
            self.inner.registry.insert(
                LiveFunction::new(team_id, name, version, prepared, &config, secrets)
                    .stamped(stamp),
            );
            self.announce(Change::Function(name.to_string())).await;
        }
        tracing::info!(function = name, version, sha256 = %sha256, kind = %kind_str, "deployed");
        progress.done(
            going_live,
            match activate {
                true => format!("version {version} serves /fn/{name}/"),
                false => format!("version {version} stored; the live version is unchanged"),
            },
        );
        Ok(DeployedVersion {
            name: name.to_string(),
            version,
            sha256,
            kind: kind_str,
            size_bytes: size,
            live: activate,
            stages: progress.stages(),
            code,
        })
    }

    /// Configuration, versions (newest first) and live version of a function.
    pub(crate) async fn function_detail(
        &self,
        name: &str,
    ) -> Result<FunctionDetail, PlatformError> {
        let row = sqlx::query("SELECT * FROM functions WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("function {name}")))?;
        let live: Option<i64> = row.try_get("live_version")?;
        let versions = sqlx::query(
            "SELECT version, sha256, kind, size_bytes, created_at FROM function_versions \
             WHERE function_name = $1 ORDER BY version DESC",
        )
        .bind(name)
        .fetch_all(&self.inner.db)
        .await?
        .iter()
        .map(|r| version_from_row(r, live))
        .collect::<Result<Vec<_>, _>>()?;
        Ok(FunctionDetail {
            name: name.to_string(),
            created_at: from_ms(row.try_get("created_at")?),
            updated_at: from_ms(row.try_get("updated_at")?),
            live_version: live,
            config: config_from_row(&row)?,
            secrets: self.secret_names(name).await?,
            versions,
            triggers: self.triggers_of(name).await?,
            gateway_path: format!("/fn/{name}/"),
            live_code: self
                .inner
                .registry
                .get(name)
                .filter(|f| Some(f.version) == live)
                .map(|f| code_tier(&f.warm.prepared().tier())),
        })
    }

    /// Changes a function's sandbox configuration; applies to the next call.
    pub(crate) async fn update_config(
        &self,
        name: &str,
        patch: FunctionConfigPatch,
    ) -> Result<FunctionDetail, PlatformError> {
        let detail = self.function_detail(name).await?;
        let mut config = detail.config;
        if let Some(v) = patch.memory_mb {
            config.memory_mb = v;
        }
        if let Some(v) = patch.timeout_ms {
            config.timeout_ms = v;
        }
        if let Some(v) = patch.max_concurrency {
            config.max_concurrency = v;
        }
        if let Some(v) = patch.env {
            config.env = v;
        }
        if let Some(v) = patch.allowed_hosts {
            config.allowed_hosts = v;
        }
        if let Some(v) = patch.application {
            config.application = v;
        }
        if let Some(v) = patch.max_outbound_calls {
            config.max_outbound_calls = v;
        }
        if let Some(v) = patch.capture {
            config.capture = v;
        }
        if let Some(v) = patch.capture_sample_percent {
            config.capture_sample_percent = v;
        }
        validate_config(&config)?;
        let largest_mb = self.inner.registry.admission.largest_call_mb();
        if u64::from(config.memory_mb) > largest_mb {
            return Err(PlatformError::invalid(format!(
                "memory_mb {} exceeds a team's share of this server's memory budget for \
                 running functions ({largest_mb} MiB): the function could never run",
                config.memory_mb
            )));
        }
        if let Some(changes) = &patch.secrets {
            crate::secrets::validate_changes(changes)?;
        }
        let now = self.inner.clock.now_ms();
        let mut tx = self.inner.db.begin().await?;
        // `updated_at` only grows, also for two changes in one millisecond:
        // it is the stamp the other nodes reload by.
        let stamp: i64 = sqlx::query_scalar(
            "UPDATE functions SET memory_mb = $1, timeout_ms = $2, max_concurrency = $3, env_json = $4, \
             allowed_hosts_json = $5, application = $6, max_outbound_calls = $8, \
             capture = $10, capture_sample_percent = $11, \
             updated_at = CASE WHEN updated_at >= $7 THEN updated_at + 1 ELSE $7 END \
             WHERE name = $9 RETURNING updated_at",
        )
        .bind(i64::from(config.memory_mb))
        .bind(config.timeout_ms as i64)
        .bind(i64::from(config.max_concurrency))
        .bind(serde_json::to_string(&config.env).map_err(anyhow::Error::from)?)
        .bind(serde_json::to_string(&config.allowed_hosts).map_err(anyhow::Error::from)?)
        .bind(config.application.clone())
        .bind(now)
        .bind(i64::from(config.max_outbound_calls))
        .bind(name)
        .bind(config.capture.as_str())
        .bind(i64::from(config.capture_sample_percent))
        .fetch_optional(&mut *tx)
        .await?
        // Deleted since it was read above.
        .ok_or_else(|| PlatformError::not_found(format!("function {name}")))?;
        if let Some(changes) = &patch.secrets {
            self.write_secrets(&mut tx, name, changes).await?;
        }
        tx.commit().await?;
        if let Some(live) = self.inner.registry.get(name) {
            let secrets = self.open_secrets(name).await?;
            self.inner.registry.insert(
                LiveFunction::new(
                    live.team_id,
                    name,
                    live.version,
                    live.warm.prepared().clone(),
                    &config,
                    secrets,
                )
                .stamped(stamp),
            );
        }
        self.announce(Change::Function(name.to_string())).await;
        self.function_detail(name).await
    }

    /// Points the `live` alias at `version` (rollback or roll forward).
    pub(crate) async fn set_alias(
        &self,
        name: &str,
        version: i64,
    ) -> Result<FunctionDetail, PlatformError> {
        let detail = self.function_detail(name).await?;
        let Some(v) = detail.versions.iter().find(|v| v.version == version) else {
            return Err(PlatformError::not_found(format!(
                "version {version} of function {name}"
            )));
        };
        let prepared = self.prepare_blob(&v.sha256).await?;
        let team_id = self.function_owner(name).await?.unwrap_or(1);
        let secrets = self.open_secrets(name).await?;
        let stamp: i64 = sqlx::query_scalar(
            "UPDATE functions SET live_version = $1, \
             updated_at = CASE WHEN updated_at >= $2 THEN updated_at + 1 ELSE $2 END \
             WHERE name = $3 RETURNING updated_at",
        )
        .bind(version)
        .bind(self.inner.clock.now_ms())
        .bind(name)
        .fetch_optional(&self.inner.db)
        .await?
        // Deleted since it was read above.
        .ok_or_else(|| PlatformError::not_found(format!("function {name}")))?;
        self.inner.registry.insert(
            LiveFunction::new(team_id, name, version, prepared, &detail.config, secrets)
                .stamped(stamp),
        );
        self.announce(Change::Function(name.to_string())).await;
        tracing::info!(function = name, version, "live alias moved");
        self.function_detail(name).await
    }

    /// The bytes of version `version` of `name`.
    pub(crate) async fn version_wasm(
        &self,
        name: &str,
        version: i64,
    ) -> Result<Bytes, PlatformError> {
        let row = sqlx::query(
            "SELECT b.bytes AS bytes FROM function_versions v \
             JOIN wasm_blobs b ON b.sha256 = v.sha256 \
             WHERE v.function_name = $1 AND v.version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.inner.db)
        .await?
        .ok_or_else(|| PlatformError::not_found(format!("version {version} of function {name}")))?;
        Ok(Bytes::from(row.try_get::<Vec<u8>, _>("bytes")?))
    }

    /// Deletes a function and its versions (invocation history is kept).
    pub(crate) async fn delete_function(&self, name: &str) -> Result<(), PlatformError> {
        let mut tx = self.inner.db.begin().await?;
        sqlx::query("DELETE FROM function_secrets WHERE function_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM function_versions WHERE function_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM captures WHERE function_name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM functions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(PlatformError::not_found(format!("function {name}")));
        }
        // Content-addressed blobs no version refers to any more.
        sqlx::query(
            "DELETE FROM wasm_blobs WHERE sha256 NOT IN (SELECT sha256 FROM function_versions)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.inner.registry.remove(name);
        self.stop_triggers_of(name);
        self.announce(Change::Function(name.to_string())).await;
        tracing::info!(function = name, "deleted");
        Ok(())
    }

    /// Stores `wasm` under its hash unless it is there already; whether
    /// this call wrote it.
    async fn store_blob(
        &self,
        sha256: &str,
        kind: &str,
        wasm: &Bytes,
    ) -> Result<bool, PlatformError> {
        let written = sqlx::query(BLOB_INSERT_SQL)
            .bind(sha256)
            .bind(wasm.len() as i64)
            .bind(kind)
            .bind(wasm.to_vec())
            .bind(self.inner.clock.now_ms())
            .execute(&self.inner.db)
            .await?
            .rows_affected();
        Ok(written > 0)
    }

    /// Removes a blob a failed upload wrote, unless a version refers to it
    /// (under the deploy lock, so no upload of the same bytes is between
    /// its check and its version row). A failure only leaves the blob for
    /// the next delete's clean-up.
    async fn forget_blob(&self, sha256: &str) {
        let _guard = self.inner.deploy_lock.lock().await;
        let removed = sqlx::query(
            "DELETE FROM wasm_blobs WHERE sha256 = $1 \
             AND NOT EXISTS (SELECT 1 FROM function_versions WHERE sha256 = $2)",
        )
        .bind(sha256)
        .bind(sha256)
        .execute(&self.inner.db)
        .await;
        if let Err(error) = removed {
            tracing::warn!(%sha256, %error, "could not remove the blob of a refused upload");
        }
    }

    /// Compiles (or loads from the artifact cache) a stored blob.
    pub(crate) async fn prepare_blob(
        &self,
        sha256: &str,
    ) -> Result<runtime::PreparedFunction, PlatformError> {
        let row = sqlx::query("SELECT bytes FROM wasm_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.inner.db)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("wasm blob {sha256}")))?;
        let bytes: Vec<u8> = row.try_get("bytes")?;
        self.inner
            .runtime
            .prepare(&bytes, sha256)
            .await
            .map_err(|e| {
                PlatformError::Internal(anyhow::anyhow!("preparing stored blob {sha256}: {e}"))
            })
    }

    /// Loads every live version into the routing table (used at start).
    pub(crate) async fn load_live_functions(&self) -> anyhow::Result<()> {
        let rows = sqlx::query(LIVE_FUNCTIONS_SQL)
            .fetch_all(&self.inner.db)
            .await?;
        let started = std::time::Instant::now();
        for row in &rows {
            if let Err(e) = self.load_live_function(row).await {
                let name: String = row.try_get("name").unwrap_or_default();
                tracing::error!(function = %name, error = %e, "could not load live version");
            }
        }
        tracing::info!(
            functions = rows.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "live functions loaded"
        );
        Ok(())
    }

    /// Makes the routing table's entry for `name` what the database says
    /// (its live version, configuration and secrets; none when it has no
    /// live version or was deleted): another node changed it.
    pub(crate) async fn refresh_function(&self, name: &str) -> Result<(), PlatformError> {
        let sql = format!("{LIVE_FUNCTIONS_SQL} WHERE f.name = $1");
        match sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.inner.db)
            .await?
        {
            Some(row) => self.load_live_function(&row).await,
            None => {
                self.inner.registry.remove(name);
                Ok(())
            }
        }
    }

    /// Puts the live version a [`LIVE_FUNCTIONS_SQL`] row names into the
    /// routing table; a version already loaded keeps its compiled code.
    async fn load_live_function(&self, row: &AnyRow) -> Result<(), PlatformError> {
        let name: String = row.try_get("name")?;
        let version: i64 = row.try_get("live_version")?;
        let sha256: String = row.try_get("sha256")?;
        let team_id: i64 = row.try_get("team_id")?;
        let stamp: i64 = row.try_get("updated_at")?;
        let config = config_from_row(row)?;
        let prepared = match self.inner.registry.get(&name) {
            // Nothing changed since this entry was built: keep it (a new
            // one would count running calls against fresh permits).
            Some(live) if live.version == version && live.stamp == stamp => return Ok(()),
            // Versions are immutable: the same version is the same code.
            Some(live) if live.version == version => live.warm.prepared().clone(),
            _ => self.prepare_blob(&sha256).await?,
        };
        let secrets = self.open_secrets(&name).await?;
        self.inner.registry.insert(
            LiveFunction::new(team_id, &name, version, prepared, &config, secrets).stamped(stamp),
        );
        Ok(())
    }
}

/// Every function with a live version: its settings, the live version's
/// blob and the owning team.
const LIVE_FUNCTIONS_SQL: &str =
    "SELECT f.*, v.sha256 AS sha256, o.team_id AS team_id FROM functions f \
     JOIN function_versions v ON v.function_name = f.name AND v.version = f.live_version \
     JOIN function_owners o ON o.name = f.name";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let mut c = FunctionConfig::default();
        assert!(validate_config(&c).is_ok());
        c.memory_mb = 0;
        assert!(validate_config(&c).is_err());
        c = FunctionConfig::default();
        c.env.insert("1BAD".into(), "x".into());
        assert!(validate_config(&c).is_err());
        c = FunctionConfig::default();
        c.allowed_hosts = vec!["*.example.com".into(), "api.example.com:8443".into()];
        assert!(validate_config(&c).is_ok());
        c.allowed_hosts = vec!["http://x".into()];
        assert!(validate_config(&c).is_err());
        let _ = crate::registry::sandbox_for(&c);
    }
}
