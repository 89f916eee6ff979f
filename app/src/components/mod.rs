//! Views shared by several pages.

pub mod cost_chart;
pub mod feedback;
pub mod invocations;
pub mod layout;
pub mod upload;
