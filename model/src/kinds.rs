//! The closed sets of words the API speaks in: invocation status and
//! outcome, trigger kind, role, job state and topology node kind. Each is
//! an enum that serializes to the same lowercase word it always did (the
//! JSON is unchanged), with `as_str`, `Display` and `FromStr`/`parse` for
//! the TEXT columns the platform stores them in. An unknown word is an
//! [`UnknownValue`], never a panic.

use std::fmt;

/// A word that names no value of an enum of this crate (bad input, or a
/// stored value this build does not know). Its message says which words
/// exist: ``unknown role `admin`: use owner, developer or viewer``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownValue {
    /// What was parsed: `role`, `job state`, ...
    pub what: &'static str,
    /// The text that was given.
    pub value: String,
    /// The words accepted, in a sentence fragment (`owner, developer or viewer`).
    pub expected: &'static str,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`: use {}",
            self.what, self.value, self.expected
        )
    }
}

impl std::error::Error for UnknownValue {}

/// Declares a closed set of words: the enum (serde `snake_case`, the same
/// spelling as `as_str`), `ALL`, `as_str`, `parse` (surrounding whitespace
/// ignored), `Display` and `FromStr`. The unit tests check every variant's
/// serde spelling against its `as_str`.
macro_rules! word_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal, expected $expected:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The word as serialized and stored.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// The value named by `text` (as [`Self::as_str`] spells it;
            /// surrounding whitespace is ignored).
            pub fn parse(text: &str) -> Result<Self, $crate::UnknownValue> {
                match text.trim() {
                    $($text => Ok(Self::$variant),)*
                    other => Err($crate::UnknownValue {
                        what: $what,
                        value: other.to_string(),
                        expected: $expected,
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, not `write_str`: widths such as `{:<10}` apply.
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

word_enum! {
    /// Whether an invocation succeeded (the coarse half of its result; see
    /// [`InvocationOutcome`] for the precise one).
    pub enum InvocationStatus ("invocation status", expected "success, error, queued or running") {
        /// It ran and answered.
        Success = "success",
        /// It failed (any outcome but `success`), or its work was dead-lettered.
        Error = "error",
        /// Async work not yet started (answered from its job).
        Queued = "queued",
        /// Async work running, or ran and its record is on its way.
        Running = "running",
    }
}

word_enum! {
    /// How an invocation ended, precisely. These are every code the code
    /// base writes: `runtime::Outcome::code()` (success, trap, timeout,
    /// out_of_memory, stack_overflow, request_too_large,
    /// response_too_large, bad_response, cancelled), the refusals of
    /// `platform`'s call tree (call_depth_exceeded, call_budget_exceeded:
    /// built from this enum's `as_str`), and the stand-ins of an async
    /// invocation answered from its job (queued, running, recording,
    /// dead_letter, record_lost). There is deliberately no catch-all
    /// variant: a new outcome code is added here, and a stored code this
    /// build does not know is an error when read, not a silent guess.
    pub enum InvocationOutcome (
        "invocation outcome",
        expected "an outcome code such as success, trap, timeout or out_of_memory"
    ) {
        /// Completed with a valid response.
        Success = "success",
        /// The guest trapped (or exited with a non-zero code).
        Trap = "trap",
        /// The guest exceeded its time limit.
        Timeout = "timeout",
        /// The guest reached its memory limit.
        OutOfMemory = "out_of_memory",
        /// The guest exhausted its call stack.
        StackOverflow = "stack_overflow",
        /// The request body was larger than the function accepts.
        RequestTooLarge = "request_too_large",
        /// The guest sent more response body than allowed.
        ResponseTooLarge = "response_too_large",
        /// The guest's response was missing or malformed.
        BadResponse = "bad_response",
        /// The call it belonged to ended first, so the host stopped it.
        Cancelled = "cancelled",
        /// Refused: function-to-function calls nest too deep.
        CallDepthExceeded = "call_depth_exceeded",
        /// Refused: the root call has used its budget of invocations.
        CallBudgetExceeded = "call_budget_exceeded",
        /// Async work not yet started (answered from its job).
        Queued = "queued",
        /// Async work running (answered from its job).
        Running = "running",
        /// Async work ran; its record is being stored.
        Recording = "recording",
        /// Async work that failed every attempt (a dead letter).
        DeadLetter = "dead_letter",
        /// Async work delivered, but a crash lost its record.
        RecordLost = "record_lost",
    }
}

word_enum! {
    /// What caused an invocation (an invocation record's `trigger`) or
    /// queued a job (its `source`).
    pub enum TriggerKind (
        "trigger kind",
        expected "http, api, async, topic, cron, nats, redis, mqtt, function or replay"
    ) {
        /// The gateway's `/fn/{name}/...` or an HTTP route.
        Http = "http",
        /// `POST /api/v1/functions/{name}/invoke`.
        Api = "api",
        /// `POST /api/v1/functions/{name}/invoke?async=true`, run from the queue.
        Async = "async",
        /// An event published to a topic.
        Topic = "topic",
        /// A cron tick.
        Cron = "cron",
        /// A NATS message.
        Nats = "nats",
        /// A Redis stream entry.
        Redis = "redis",
        /// An MQTT message.
        Mqtt = "mqtt",
        /// Another function, through `http://<name>.fn.wisp/`.
        Function = "function",
        /// A replay of a recorded invocation (`POST /api/v1/invocations/{id}/replay`).
        Replay = "replay",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JobState, Role, TopologyNodeKind};

    /// Every variant serializes as the word `as_str` gives, and parses back.
    fn spelled_alike<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + std::str::FromStr,
        T: serde::Serialize + serde::de::DeserializeOwned,
        <T as std::str::FromStr>::Err: fmt::Debug,
    {
        for &value in all {
            let word = value.to_string();
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{word}\""), "{value:?}");
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
            assert_eq!(word.parse::<T>().unwrap(), value);
        }
    }

    #[test]
    fn serde_spells_as_str() {
        spelled_alike(InvocationStatus::ALL);
        spelled_alike(InvocationOutcome::ALL);
        spelled_alike(TriggerKind::ALL);
        spelled_alike(Role::ALL);
        spelled_alike(JobState::ALL);
        spelled_alike(TopologyNodeKind::ALL);
    }

    #[test]
    fn unknown_words_are_errors() {
        let err = Role::parse("admin").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown role `admin`: use owner, developer or viewer"
        );
        assert_eq!(Role::parse(" owner "), Ok(Role::Owner));
        assert!(serde_json::from_str::<JobState>("\"gone\"").is_err());
        assert!("Success".parse::<InvocationOutcome>().is_err());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Developer && Role::Developer < Role::Owner);
    }
}
