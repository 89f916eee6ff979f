//! The edge to external message brokers: the NATS (core and JetStream),
//! Redis Streams and MQTT clients that consume a queue trigger's messages.
//! Each is a [`crate::triggers::TriggerSource`]; the domain core starts,
//! replaces and stops them through that trait only and never sees a
//! broker's own types. What a delivered message becomes (a job, retries,
//! dead letters, acknowledgement after the call) is `triggers::external`'s.

pub(crate) mod mqtt;
pub(crate) mod nats;
pub(crate) mod redis_stream;
