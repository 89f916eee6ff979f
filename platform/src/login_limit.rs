//! Sign-in rate limiting: failed attempts are counted per user name and per
//! client address over a sliding window; once a key reaches its limit, further
//! attempts are refused (`rate_limited`, with the wait) without checking the
//! password, so guessing is slow whichever of the two an attacker varies.
//!
//! An attempt is counted as failed *before* its password is checked (a
//! reservation), and forgiven only when it succeeds: concurrent guesses
//! cannot all pass the check while the first ones are still hashing. Every
//! password check (argon2: ~19 MiB and tens of ms of CPU each) runs on the
//! blocking pool behind a small semaphore with a bounded queue; beyond it a
//! sign-in is refused with `rate_limited` instead of piling up memory and
//! starving the async workers.
//!
//! Hand-written rather than `governor`: only *failures* count (a user who
//! signs in often must never be locked out), and a success clears the user's
//! count; governor's cells are consumed by every check, which models neither.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::PlatformError;

/// Failed attempts allowed per user name within [`WINDOW`].
pub const FAILURES_PER_USER: usize = 5;
/// Failed attempts allowed per client address within [`WINDOW`].
pub const FAILURES_PER_CLIENT: usize = 20;
/// The sliding window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Keys kept at most; the oldest entries are dropped beyond it (memory bound
/// against an attacker cycling through user names).
const MAX_KEYS: usize = 100_000;
/// Password checks that run at once: argon2's default costs ~19 MiB and
/// most of a core for tens of milliseconds, so two keep a small host (and
/// its gateway) responsive while sign-ins queue.
const CONCURRENT_CHECKS: usize = 2;
/// Sign-ins that may wait for a check; more at once are refused with
/// `rate_limited` (one second) rather than held in memory.
const QUEUED_CHECKS: usize = 32;

pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    checks: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            failures: Mutex::default(),
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
            waiting: AtomicUsize::new(0),
        }
    }
}

/// A sign-in attempt, counted as failed from the moment it was admitted
/// until [`LoginLimiter::succeeded`] forgives it.
#[must_use = "an attempt is a failure unless it succeeds"]
pub(crate) struct Attempt {
    user: String,
    client: Option<String>,
    at: Instant,
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn client_key(client: IpAddr) -> String {
    format!("ip:{client}")
}

/// Leaves the queue of waiting checks when dropped (also on cancellation).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LoginLimiter {
    /// Admits an attempt, counting it as a failure at once, or answers
    /// `rate_limited` (with the wait) when the user name or the client is
    /// over its limit. The check and the count are one step under one lock.
    pub fn reserve(
        &self,
        username: &str,
        client: Option<IpAddr>,
    ) -> Result<Attempt, PlatformError> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let attempt = Attempt {
            user: user_key(username),
            client: client.map(client_key),
            at: now,
        };
        let mut wait = None;
        let keys = std::iter::once((&attempt.user, FAILURES_PER_USER))
            .chain(attempt.client.as_ref().map(|k| (k, FAILURES_PER_CLIENT)));
        for (key, limit) in keys {
            if let Some(times) = failures.get_mut(key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = times[times.len() - limit];
                    let left = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = wait.max(Some(left));
                }
            }
        }
        if let Some(left) = wait {
            return Err(PlatformError::RateLimited {
                retry_after_secs: left.as_secs().max(1),
            });
        }
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for key in std::iter::once(&attempt.user).chain(attempt.client.as_ref()) {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            // Only the newest failures up to the largest limit matter.
            while times.len() > FAILURES_PER_CLIENT {
                times.pop_front();
            }
        }
        Ok(attempt)
    }

    /// A successful sign-in: forgives the attempt, and clears the user
    /// name's failures (not the client's earlier ones).
    pub fn succeeded(&self, attempt: Attempt) {
        self.forgive(&attempt, true);
    }

    /// An attempt whose password was never checked (the server was too busy):
    /// it does not count.
    pub fn not_checked(&self, attempt: Attempt) {
        self.forgive(&attempt, false);
    }

    fn forgive(&self, attempt: &Attempt, clear_user: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if clear_user {
            failures.remove(&attempt.user);
        }
        let keys = std::iter::once(&attempt.user).chain(attempt.client.as_ref());
        for key in keys {
            if let Some(times) = failures.get_mut(key) {
                if let Some(i) = times.iter().rposition(|t| *t == attempt.at) {
                    times.remove(i);
                }
            }
        }
    }

    /// Checks `password` against the stored argon2 hash on the blocking pool,
    /// behind the semaphore. With no stored hash (unknown user) it spends the
    /// same work hashing, so user names do not leak by timing, and answers
    /// false. `rate_limited` when too many checks are already waiting.
    pub async fn verify_password(
        &self,
        stored: Option<String>,
        password: &str,
    ) -> Result<bool, PlatformError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= QUEUED_CHECKS + CONCURRENT_CHECKS {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PlatformError::RateLimited {
                retry_after_secs: 1,
            });
        }
        let _waiting = Waiting(&self.waiting);
        let permit = self
            .checks
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| PlatformError::Internal(e.into()))?;
        let password = password.to_string();
        // The permit moves into the blocking task: a caller that goes away
        // does not free its slot before the hashing really ends.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            match stored {
                Some(stored) => PasswordHash::new(&stored)
                    .map(|h| {
                        Argon2::default()
                            .verify_password(password.as_bytes(), &h)
                            .is_ok()
                    })
                    .unwrap_or(false),
                None => {
                    let _ = crate::auth::hash_password(&password);
                    false
                }
            }
        })
        .await
        .map_err(|e| PlatformError::Internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_limited_after_five_failures_and_cleared_by_success() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        // Four failures, then a success: the count starts again.
        for _ in 0..FAILURES_PER_USER - 1 {
            drop(limiter.reserve("alice", Some(ip)).unwrap());
        }
        limiter.succeeded(limiter.reserve("alice", Some(ip)).unwrap());
        for _ in 0..FAILURES_PER_USER {
            drop(limiter.reserve("alice", Some(ip)).unwrap());
        }
        let err = limiter.reserve("Alice", Some(ip)).err().unwrap();
        assert_eq!(err.code(), "rate_limited");
        // Another user from another address is not affected.
        let bob = limiter
            .reserve("bob", Some("10.0.0.2".parse().unwrap()))
            .unwrap();
        limiter.succeeded(bob);
    }

    #[test]
    fn an_attempt_counts_before_its_check_ends() {
        let limiter = LoginLimiter::default();
        // Five attempts in flight at once: the sixth is refused already.
        let pending: Vec<_> = (0..FAILURES_PER_USER)
            .map(|_| limiter.reserve("carol", None).unwrap())
            .collect();
        assert_eq!(
            limiter.reserve("carol", None).err().unwrap().code(),
            "rate_limited"
        );
        // One of them was the right password: the user is free again.
        let mut pending = pending.into_iter();
        limiter.succeeded(pending.next().unwrap());
        limiter.succeeded(limiter.reserve("carol", None).unwrap());
        // An attempt never checked does not count.
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        for _ in 0..FAILURES_PER_CLIENT * 2 {
            let attempt = limiter.reserve("dave", Some(ip)).unwrap();
            limiter.not_checked(attempt);
        }
    }

    #[test]
    fn client_is_limited_across_user_names() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..FAILURES_PER_CLIENT {
            drop(limiter.reserve(&format!("user{i}"), Some(ip)).unwrap());
        }
        assert_eq!(
            limiter.reserve("fresh", Some(ip)).err().unwrap().code(),
            "rate_limited"
        );
        drop(
            limiter
                .reserve("fresh", Some("10.0.0.10".parse().unwrap()))
                .unwrap(),
        );
    }

    #[tokio::test]
    async fn password_checks_queue_is_bounded() {
        let limiter = Arc::new(LoginLimiter::default());
        let hash = crate::auth::hash_password("right").unwrap();
        assert!(limiter
            .verify_password(Some(hash.clone()), "right")
            .await
            .unwrap());
        assert!(!limiter.verify_password(None, "x").await.unwrap());
        let many = (0..(QUEUED_CHECKS + CONCURRENT_CHECKS) * 2).map(|_| {
            let limiter = limiter.clone();
            let hash = hash.clone();
            tokio::spawn(async move { limiter.verify_password(Some(hash), "wrong").await })
        });
        let results = futures::future::join_all(many).await;
        let refused = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(PlatformError::RateLimited { .. }))))
            .count();
        assert!(refused > 0, "a burst beyond the queue is refused");
        assert_eq!(limiter.waiting.load(Ordering::Acquire), 0);
    }
}
