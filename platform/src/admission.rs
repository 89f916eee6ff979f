//! Admission of calls into the sandbox pool, across functions: the
//! instance pool's capacity, each team's share of it, and the server-wide
//! memory budget of running sandboxes. A function's own `max_concurrency`
//! is checked before this (in `invoke`); here one team is kept from taking
//! the slots or the memory every other team needs (issue 28: 1,100 slow
//! calls of one team made another team's calls fail).
//!
//! Every running call holds an [`Admitted`] until its guest and its response
//! body are done: one slot of the pool and its memory limit out of the
//! budget, each also counted against its team's share (the same percentage
//! of both), so that one team can exhaust neither. A synchronous call that finds any of them
//! exhausted is refused at once ([`Refusal`], answered 429 with
//! `Retry-After`); queued work waits its turn instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default share of the instance pool one team may hold, in percent: half,
/// so that one team alone can never take every slot.
pub const DEFAULT_TEAM_CONCURRENCY_PERCENT: u32 = 50;

/// Memory budget used when the machine's memory cannot be read (MiB).
const FALLBACK_MEMORY_BUDGET_MB: u64 = 16 * 1024;

/// The default memory budget of running sandboxes: the machine's physical
/// memory (`MemTotal` of `/proc/meminfo`), so that the sandboxes' memory
/// limits together never promise more memory than there is.
pub fn default_memory_budget_mb() -> u64 {
    physical_memory_mb().unwrap_or(FALLBACK_MEMORY_BUDGET_MB)
}

/// `MemTotal` of `/proc/meminfo` in MiB (Linux only).
fn physical_memory_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Why a call was not admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The team already runs its share of the pool.
    TeamShare { limit: u32 },
    /// The team's running calls already hold its share of the memory budget.
    TeamMemory { share_mb: u64, memory_mb: u32 },
    /// The memory limits of running calls would exceed the budget.
    MemoryBudget { budget_mb: u64, memory_mb: u32 },
    /// Every slot of the pool is taken.
    PoolFull { capacity: u32 },
}

impl Refusal {
    /// A sentence for the caller.
    pub fn message(&self) -> String {
        match self {
            Refusal::TeamShare { limit } => format!(
                "the team is running its share of the server ({limit} concurrent calls); \
                 try again shortly"
            ),
            Refusal::TeamMemory {
                share_mb,
                memory_mb,
            } => format!(
                "the team's running calls hold its share of the server's memory budget \
                 ({share_mb} MiB), with no room for another {memory_mb} MiB call; \
                 try again shortly"
            ),
            Refusal::MemoryBudget {
                budget_mb,
                memory_mb,
            } => format!(
                "the server's memory budget for running functions ({budget_mb} MiB) has no \
                 room for another {memory_mb} MiB call; try again shortly"
            ),
            Refusal::PoolFull { capacity } => format!(
                "the server is running its maximum of {capacity} concurrent calls; \
                 try again shortly"
            ),
        }
    }
}

/// What a running call holds; dropping it frees its slot, its team's slot
/// and its memory.
pub(crate) struct Admitted {
    _team_calls: OwnedSemaphorePermit,
    _team_memory: OwnedSemaphorePermit,
    _memory: OwnedSemaphorePermit,
    _pool: OwnedSemaphorePermit,
}

/// One team's share: calls and MiB of memory limits.
struct TeamShare {
    calls: Arc<Semaphore>,
    memory: Arc<Semaphore>,
}

/// The pool, team shares and memory budget of one server.
pub(crate) struct Admission {
    pool: Arc<Semaphore>,
    capacity: u32,
    team_limit: u32,
    team_memory_mb: u64,
    teams: Mutex<HashMap<i64, Arc<TeamShare>>>,
    memory: Arc<Semaphore>,
    budget_mb: u64,
}

impl Admission {
    /// `capacity` concurrent calls in all and memory limits summing to at
    /// most `budget_mb` MiB; one team gets `team_percent` % of each (at
    /// least one call, and at least one MiB).
    pub fn new(capacity: u32, team_percent: u32, budget_mb: u64) -> Self {
        let percent = u64::from(team_percent.clamp(1, 100));
        let capacity = capacity.max(1);
        let team_limit = (u64::from(capacity) * percent / 100).clamp(1, u64::from(capacity)) as u32;
        // Permits are MiB; a tokio semaphore holds at most MAX_PERMITS, and
        // acquiring takes a u32 at a time (a call's limit is far below it).
        let budget_mb = budget_mb.clamp(1, Semaphore::MAX_PERMITS as u64);
        let team_memory_mb = (budget_mb.saturating_mul(percent) / 100).clamp(1, budget_mb);
        Admission {
            pool: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            team_limit,
            team_memory_mb,
            teams: Mutex::default(),
            memory: Arc::new(Semaphore::new(budget_mb as usize)),
            budget_mb,
        }
    }

    fn team(&self, team_id: i64) -> Arc<TeamShare> {
        let mut teams = self.teams.lock().unwrap_or_else(|e| e.into_inner());
        teams
            .entry(team_id)
            .or_insert_with(|| {
                Arc::new(TeamShare {
                    calls: Arc::new(Semaphore::new(self.team_limit as usize)),
                    memory: Arc::new(Semaphore::new(self.team_memory_mb as usize)),
                })
            })
            .clone()
    }

    /// Admits a call of `team_id` whose sandbox may use `memory_mb` MiB, or
    /// says why not (at once).
    pub fn try_admit(&self, team_id: i64, memory_mb: u32) -> Result<Admitted, Refusal> {
        let memory = self.memory_permit(memory_mb)?;
        let team = self.team(team_id);
        let team_calls =
            Arc::clone(&team.calls)
                .try_acquire_owned()
                .map_err(|_| Refusal::TeamShare {
                    limit: self.team_limit,
                })?;
        let team_memory = Arc::clone(&team.memory)
            .try_acquire_many_owned(memory)
            .map_err(|_| Refusal::TeamMemory {
                share_mb: self.team_memory_mb,
                memory_mb,
            })?;
        let memory = Arc::clone(&self.memory)
            .try_acquire_many_owned(memory)
            .map_err(|_| Refusal::MemoryBudget {
                budget_mb: self.budget_mb,
                memory_mb,
            })?;
        let pool = Arc::clone(&self.pool)
            .try_acquire_owned()
            .map_err(|_| Refusal::PoolFull {
                capacity: self.capacity,
            })?;
        Ok(Admitted {
            _team_calls: team_calls,
            _team_memory: team_memory,
            _memory: memory,
            _pool: pool,
        })
    }

    /// Admits a call once there is room (queued work); refuses at once only
    /// a call that could never fit the memory budget.
    pub async fn admit(&self, team_id: i64, memory_mb: u32) -> Result<Admitted, Refusal> {
        let memory = self.memory_permit(memory_mb)?;
        // Acquired in one order everywhere, so waiters cannot deadlock; the
        // semaphores are never closed.
        let closed = |_| Refusal::PoolFull {
            capacity: self.capacity,
        };
        let team = self.team(team_id);
        let team_calls = Arc::clone(&team.calls)
            .acquire_owned()
            .await
            .map_err(closed)?;
        let team_memory = Arc::clone(&team.memory)
            .acquire_many_owned(memory)
            .await
            .map_err(closed)?;
        let memory = Arc::clone(&self.memory)
            .acquire_many_owned(memory)
            .await
            .map_err(closed)?;
        let pool = Arc::clone(&self.pool)
            .acquire_owned()
            .await
            .map_err(closed)?;
        Ok(Admitted {
            _team_calls: team_calls,
            _team_memory: team_memory,
            _memory: memory,
            _pool: pool,
        })
    }

    /// The permits a call of `memory_mb` MiB takes from the budget (one per
    /// MiB, at least one); a call larger than a team's whole share of the
    /// budget could never run and is refused.
    fn memory_permit(&self, memory_mb: u32) -> Result<u32, Refusal> {
        if u64::from(memory_mb) > self.team_memory_mb {
            return Err(Refusal::TeamMemory {
                share_mb: self.team_memory_mb,
                memory_mb,
            });
        }
        Ok(memory_mb.max(1))
    }

    /// The largest memory limit a call can run with: a team's share of the
    /// memory budget, in MiB.
    pub fn largest_call_mb(&self) -> u64 {
        self.team_memory_mb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_team_gets_its_share_and_others_keep_theirs() {
        let admission = Admission::new(4, 50, 1 << 20);
        let hog: Vec<_> = (0..2)
            .map(|_| admission.try_admit(1, 128).unwrap())
            .collect();
        assert_eq!(
            admission.try_admit(1, 128).err(),
            Some(Refusal::TeamShare { limit: 2 })
        );
        let other = admission.try_admit(2, 128).expect("another team runs");
        drop(hog);
        drop(other);
        assert!(admission.try_admit(1, 128).is_ok(), "slots come back");
    }

    #[test]
    fn one_team_holds_at_most_its_share_of_the_memory_budget() {
        let admission = Admission::new(100, 50, 4096);
        let hog: Vec<_> = (0..2)
            .map(|_| admission.try_admit(1, 1024).unwrap())
            .collect();
        assert!(matches!(
            admission.try_admit(1, 1024),
            Err(Refusal::TeamMemory { share_mb: 2048, .. })
        ));
        assert!(admission.try_admit(2, 1024).is_ok(), "another team fits");
        drop(hog);
        assert!(matches!(
            admission.try_admit(1, 3000),
            Err(Refusal::TeamMemory { .. })
        ));
        assert_eq!(admission.largest_call_mb(), 2048);
    }

    #[test]
    fn memory_limits_stay_within_the_budget() {
        let admission = Admission::new(100, 100, 2048);
        let first = admission.try_admit(1, 1024).unwrap();
        let second = admission.try_admit(2, 1024).unwrap();
        assert!(matches!(
            admission.try_admit(3, 1024),
            Err(Refusal::MemoryBudget { .. })
        ));
        drop(first);
        assert!(admission.try_admit(3, 1024).is_ok());
        drop(second);
        assert!(matches!(
            admission.try_admit(1, 4096),
            Err(Refusal::TeamMemory { .. })
        ));
    }

    #[tokio::test]
    async fn queued_calls_wait_for_room() {
        let admission = Arc::new(Admission::new(1, 100, 1024));
        let running = admission.try_admit(1, 64).unwrap();
        assert_eq!(
            admission.try_admit(2, 64).err(),
            Some(Refusal::PoolFull { capacity: 1 })
        );
        let waiter = tokio::spawn({
            let admission = admission.clone();
            async move { admission.admit(2, 64).await.is_ok() }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(running);
        assert!(waiter.await.unwrap());
    }

    #[test]
    fn the_default_budget_is_the_machines_memory() {
        assert!(default_memory_budget_mb() > 0);
    }
}
