//! The one door into the domain. Every operation on a team's objects takes
//! the caller ([`Principal`]) first and does the rest itself: it acts for
//! the caller's team, checks the role (viewer < developer < owner; server
//! administrators for users, teams and prices), answers another team's
//! object as not found (never "forbidden": the control plane does not
//! confirm what other teams have), and writes exactly one audit record for
//! every change it is asked for (also a refused one), naming the caller.
//!
//! The REST handlers and the dashboard's server functions are adapters over
//! these sub-services; the operations they wrap are crate-private, so an
//! unaudited or unchecked path cannot be written from outside. The
//! sub-services share the platform core:
//! - [`Functions`]: versions, configuration, the live alias, calls made
//!   through the control plane and their invocation records;
//! - [`Triggers`]: routes, schedules, topic and broker subscriptions;
//! - [`Events`]: topics, async jobs, dead letters, key-value data;
//! - [`Access`]: sign-in, teams, members, users, sessions, API tokens and
//!   the audit log;
//! - [`Metering`]: cost reports, price plans, the overview and the topology;
//! - [`Retention`]: how long each team's history is kept;
//! - [`Alerts`]: rules on error rate, latency, queues and budget;
//! - [`Applications`]: manifests planned, applied and exported.
//!
//! Wisp's own work (the gateway serving a public route, the dispatcher,
//! trigger consumers, the recorder, the in-guest hosts) runs on the core's
//! crate-private methods; where it changes a team's objects on its own it
//! is audited as [`Principal::system`].

mod access;
mod alerts;
mod applications;
mod events;
mod functions;
mod metering;
mod replays;
mod retention;
mod triggers;

use std::future::Future;

pub use access::Access;
pub use alerts::Alerts;
pub use applications::Applications;
pub use events::Events;
pub use functions::{Functions, InvocationFeed, LogFeed};
pub use metering::Metering;
pub use retention::Retention;
pub use triggers::Triggers;

use crate::{Platform, PlatformError, Principal};

/// What kind of change an audited operation makes: the status its success
/// is recorded (and answered) with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new object (201).
    Create,
    /// An object changed, or a call that answers with a result (200).
    Update,
    /// Work accepted to run later (202).
    Accept,
    /// Done, with nothing to answer: an object removed, a value stored (204).
    NoContent,
}

impl Change {
    fn status(self) -> u16 {
        match self {
            Change::Create => 201,
            Change::Update => 200,
            Change::Accept => 202,
            Change::NoContent => 204,
        }
    }
}

impl Platform {
    /// Functions, their versions, configuration and invocation records.
    pub fn functions(&self) -> Functions<'_> {
        Functions(self)
    }

    /// HTTP routes, schedules, topic and broker subscriptions.
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers(self)
    }

    /// Topics, async jobs, dead letters and key-value data.
    pub fn events(&self) -> Events<'_> {
        Events(self)
    }

    /// Sign-in, teams, members, users, sessions, tokens and the audit log.
    pub fn access(&self) -> Access<'_> {
        Access(self)
    }

    /// Costs, price plans, the overview and the topology graph.
    pub fn metering(&self) -> Metering<'_> {
        Metering(self)
    }

    /// Alert rules and their history.
    pub fn alerts(&self) -> Alerts<'_> {
        Alerts(self)
    }

    /// Applications as code: plan, apply and export a manifest.
    pub fn applications(&self) -> Applications<'_> {
        Applications(self)
    }

    /// How long history is kept: the team's and the server's periods.
    pub fn retention(&self) -> Retention<'_> {
        Retention(self)
    }

    /// Runs the change `op` for `who` and writes its one audit record:
    /// `action` on `target`, with the status the change is answered with
    /// (its error's status when refused or failed). A failure to write the
    /// record is logged; the change itself stands.
    pub(crate) async fn audited<T>(
        &self,
        who: &Principal,
        action: &str,
        target: &str,
        change: Change,
        op: impl Future<Output = Result<T, PlatformError>>,
    ) -> Result<T, PlatformError> {
        let result = op.await;
        let status = match &result {
            Ok(_) => change.status(),
            Err(e) => e.status(),
        };
        if let Err(e) = self.record_audit(who, action, target, status).await {
            tracing::error!(error = %e, action, target, "writing the audit log");
        }
        result
    }
}
