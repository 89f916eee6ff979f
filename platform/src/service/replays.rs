//! Replay through the one door: reading a call's capture and replaying
//! recorded calls. Both need the developer role in the call's team (a
//! capture holds the call's request and what it read from the outside)
//! and both are audited: each read of a capture, each replay of one
//! invocation or of a function's latest failures.

use model::{
    CaptureInfo, ReplayFailuresRequest, ReplayFailuresResult, ReplayRequest, ReplayResult,
};

use super::{Change, Functions};
use crate::{PlatformError, Principal, Role};

impl Functions<'_> {
    /// Whether invocation `id` was recorded (any member of its team may ask).
    pub async fn capture_status(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<model::CaptureStatus, PlatformError> {
        self.0.invocation_for(who, id).await?;
        self.0.capture_status(id).await
    }

    /// What is kept of invocation `id` for replay (reading it is audited:
    /// it tells what the call sent and received).
    pub async fn capture(&self, who: &Principal, id: &str) -> Result<CaptureInfo, PlatformError> {
        let target = format!("invocation {id}");
        self.0
            .audited(who, "read_capture", &target, Change::Update, async {
                self.authorize_replay(who, id).await?;
                self.0.capture_info(id).await
            })
            .await
    }

    /// Runs the recorded call `id` again (see `POST /api/v1/invocations/{id}/replay`).
    pub async fn replay(
        &self,
        who: &Principal,
        id: &str,
        request: &ReplayRequest,
    ) -> Result<ReplayResult, PlatformError> {
        // The audit says how: a live replay sends its requests again.
        let version = match &request.version {
            None => "its own version".to_string(),
            Some(model::ReplayVersion::Number(n)) => format!("version {n}"),
            Some(model::ReplayVersion::Named(word)) => format!("version {word}"),
        };
        let outbound = request.outbound.unwrap_or(model::ReplayOutbound::Recorded);
        let target = format!("invocation {id} on {version}, outbound {outbound}");
        self.0
            .audited(who, "replay", &target, Change::Update, async {
                self.authorize_replay(who, id).await?;
                self.0.replay(who.team_id, id, request).await
            })
            .await
    }

    /// Replays the latest captured failures of function `name` on one
    /// version and sums up how each did.
    pub async fn replay_failures(
        &self,
        who: &Principal,
        name: &str,
        request: &ReplayFailuresRequest,
    ) -> Result<ReplayFailuresResult, PlatformError> {
        let op = self.0.replay_failures(who.team_id, name, request);
        self.change(who, name, "replay_failures", Change::Update, op)
            .await
    }

    /// Invocation `id` is the team's (else not found) and `who` may replay.
    async fn authorize_replay(&self, who: &Principal, id: &str) -> Result<(), PlatformError> {
        let record = self.0.invocation(id).await?;
        self.0
            .authorize_object(
                who,
                &record.function,
                Role::Developer,
                &format!("invocation {id}"),
            )
            .await
    }
}
