//! Views shared by several pages.

pub mod backtrace;
pub mod config_form;
pub mod cost_chart;
pub mod feedback;
pub mod function_select;
pub mod function_table;
pub mod invocation_list;
pub mod invocations;
pub mod layout;
pub mod live_tail;
pub mod minute_chart;
pub mod recorder_banner;
pub mod replay;
pub mod retention_card;
pub mod secrets_form;
pub mod server_card;
pub mod sortable;
pub mod test_invoke;
pub mod upload;
