//! Sign-in rate limiting: failed attempts are counted per user name and per
//! client address over a sliding window; once a key reaches its limit, further
//! attempts are refused (`rate_limited`, with the wait) without checking the
//! password, so guessing is slow whichever of the two an attacker varies.
//!
//! Hand-written rather than `governor`: only *failures* count (a user who
//! signs in often must never be locked out), and a success clears the user's
//! count; governor's cells are consumed by every check, which models neither.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Default)]
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn client_key(client: IpAddr) -> String {
    format!("ip:{client}")
}

impl LoginLimiter {
    /// `rate_limited` when the user name or the client is over its limit.
    pub fn check(&self, username: &str, client: Option<IpAddr>) -> Result<(), PlatformError> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        let mut keys = vec![(user_key(username), FAILURES_PER_USER)];
        if let Some(ip) = client {
            keys.push((client_key(ip), FAILURES_PER_CLIENT));
        }
        for (key, limit) in keys {
            if let Some(times) = failures.get_mut(&key) {
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
        match wait {
            Some(left) => Err(PlatformError::RateLimited {
                retry_after_secs: left.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against the user name and the client.
    pub fn failed(&self, username: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        let mut keys = vec![user_key(username)];
        keys.extend(client.map(client_key));
        for key in keys {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the newest failures up to the largest limit matter.
            while times.len() > FAILURES_PER_CLIENT {
                times.pop_front();
            }
        }
    }

    /// A successful sign-in clears the user name's failures (not the client's).
    pub fn succeeded(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&user_key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_is_limited_after_five_failures_and_cleared_by_success() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..FAILURES_PER_USER {
            limiter.check("alice", Some(ip)).unwrap();
            limiter.failed("alice", Some(ip));
        }
        let err = limiter.check("Alice", Some(ip)).unwrap_err();
        assert_eq!(err.code(), "rate_limited");
        // Another user from another address is not affected.
        limiter
            .check("bob", Some("10.0.0.2".parse().unwrap()))
            .unwrap();
        limiter.succeeded("alice");
        limiter.check("alice", None).unwrap();
    }

    #[test]
    fn client_is_limited_across_user_names() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for i in 0..FAILURES_PER_CLIENT {
            limiter.failed(&format!("user{i}"), Some(ip));
        }
        assert_eq!(
            limiter.check("fresh", Some(ip)).unwrap_err().code(),
            "rate_limited"
        );
        limiter
            .check("fresh", Some("10.0.0.10".parse().unwrap()))
            .unwrap();
    }
}
