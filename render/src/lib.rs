//! Wisp's renderers, at the edge of the domain: the platform computes cost
//! reports and the topology graph (plain `model` shapes); this crate draws
//! them — a cost report as CSV ([`cost_csv`]) or a PDF document
//! ([`cost_pdf`]), the topology laid out left to right ([`topology_layout`])
//! and drawn as SVG ([`topology_svg`]) or Graphviz DOT ([`topology_dot`]).
//! It depends on `model` and the drawing libraries only (no SQL, no async
//! runtime, no wasmtime), so a renderer can be replaced without touching
//! the core, and the core's dependency tree stays small.

mod csv;
mod month;
mod pdf;
mod topology;

pub use csv::cost_csv;
pub use month::MalformedMonth;
pub use pdf::cost_pdf;
pub use topology::{topology_dot, topology_layout, topology_svg};

#[cfg(test)]
pub(crate) mod fixture;
