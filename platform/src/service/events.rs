//! Events through the one door: publishing to a team's topics, the team's
//! async jobs and dead letters (and sending one back to the queue), and the
//! team's key-value data per application. Reads need the viewer role,
//! changes the developer role.

use bytes::Bytes;
use model::{Job, JobState, KvEntry, PublishReceipt, QueueStats};

use super::Change;
use crate::{KvValue, Platform, PlatformError, Principal, Role, TraceContext};

/// Topics, jobs and key-value data of the caller's team (see [`Platform::events`]).
pub struct Events<'a>(pub(super) &'a Platform);

impl Events<'_> {
    /// Publishes `payload` to the team's `topic`: one delivery per subscriber.
    pub async fn publish(
        &self,
        who: &Principal,
        topic: &str,
        payload: Bytes,
        content_type: Option<&str>,
        trace: Option<TraceContext>,
    ) -> Result<PublishReceipt, PlatformError> {
        let target = format!("topic {topic}");
        self.0
            .audited(who, "publish", &target, Change::Accept, async {
                who.require(Role::Developer)?;
                self.0
                    .publish(who.team_id, topic, payload, content_type, None, trace)
                    .await
            })
            .await
    }

    /// The team's jobs, newest first, optionally by state and function.
    pub async fn jobs(
        &self,
        who: &Principal,
        state: Option<&str>,
        function: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>, PlatformError> {
        self.0.list_jobs(who.team_id, state, function, limit).await
    }

    /// The team's dead letters (async work that failed every attempt).
    pub async fn dead_letters(
        &self,
        who: &Principal,
        function: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>, PlatformError> {
        self.0
            .list_jobs(who.team_id, Some(JobState::Dead.as_str()), function, limit)
            .await
    }

    /// One job of the team.
    pub async fn job(&self, who: &Principal, id: &str) -> Result<Job, PlatformError> {
        self.0.job_for(who, id, Role::Viewer).await
    }

    /// How many of the team's jobs are in each state.
    pub async fn stats(&self, who: &Principal) -> Result<QueueStats, PlatformError> {
        self.0.queue_stats(who.team_id).await
    }

    /// Sends dead letter `id` back to the queue with fresh attempts.
    pub async fn redrive(&self, who: &Principal, id: &str) -> Result<Job, PlatformError> {
        let target = format!("job {id}");
        self.0
            .audited(who, "redrive", &target, Change::Update, async {
                self.0.job_for(who, id, Role::Developer).await?;
                self.0.redrive(id).await
            })
            .await
    }

    /// The applications of the team that have key-value data.
    pub async fn applications(&self, who: &Principal) -> Result<Vec<String>, PlatformError> {
        self.0.kv_applications(who.team_id).await
    }

    /// Keys of `application` starting with `prefix`.
    pub async fn kv_list(
        &self,
        who: &Principal,
        application: &str,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<KvEntry>, PlatformError> {
        self.0
            .kv_list(who.team_id, application, prefix, limit)
            .await
    }

    /// One key's value; `not_found` when the key is not set.
    pub async fn kv_get(
        &self,
        who: &Principal,
        application: &str,
        key: &str,
    ) -> Result<KvValue, PlatformError> {
        self.0
            .kv_get(who.team_id, application, key)
            .await?
            .ok_or_else(|| {
                PlatformError::missing(format!("no key {key} in application {application}"))
            })
    }

    /// Sets a key of `application`.
    pub async fn kv_put(
        &self,
        who: &Principal,
        application: &str,
        key: &str,
        value: &[u8],
        content_type: Option<&str>,
    ) -> Result<(), PlatformError> {
        let target = format!("key {application}/{key}");
        self.0
            .audited(who, "kv_put", &target, Change::NoContent, async {
                who.require(Role::Developer)?;
                self.0
                    .kv_put(who.team_id, application, key, value, content_type)
                    .await
            })
            .await
    }

    /// Deletes a key of `application`; `not_found` when it was not set.
    pub async fn kv_delete(
        &self,
        who: &Principal,
        application: &str,
        key: &str,
    ) -> Result<(), PlatformError> {
        let target = format!("key {application}/{key}");
        self.0
            .audited(who, "kv_delete", &target, Change::NoContent, async {
                who.require(Role::Developer)?;
                if self.0.kv_delete(who.team_id, application, key).await? {
                    Ok(())
                } else {
                    Err(PlatformError::missing(format!(
                        "no key {key} in application {application}"
                    )))
                }
            })
            .await
    }
}
