//! One module per route of the dashboard.

pub mod alerts;
pub mod application;
pub mod costs;
pub mod errors;
pub mod events;
pub mod function;
pub mod functions;
pub mod invocation;
pub mod login;
pub mod logs;
pub mod nodes;
pub mod not_found;
pub mod overview;
pub mod settings;
pub mod team;
pub mod topology;
pub mod trace;
pub mod triggers;
