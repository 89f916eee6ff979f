//! Drawing the topology graph the platform computes ([`Topology`]):
//! [`topology_layout`] runs layout-rs's layered (Sugiyama-style) placement
//! left to right and captures where it put each node and edge;
//! [`topology_svg`] draws that with Wisp's styling (edge width by calls,
//! colour by error rate, dashed when declared but unused, hover titles,
//! links to function pages); [`topology_dot`] writes Graphviz DOT for other
//! tools.

use std::collections::HashMap;
use std::fmt::Write as _;

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::{get_size_for_str, pad_shape_scalar, Point};
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;
use model::{
    EdgePath, GraphLayout, NodeBox, Topology, TopologyEdge, TopologyNode, TopologyNodeKind as Kind,
};

/// Label font size used for sizing boxes (the SVG uses the same).
const FONT: usize = 13;
/// Space around the drawing.
const MARGIN: f64 = 16.0;

/// Records what layout-rs draws instead of drawing it.
#[derive(Default)]
struct Capture {
    boxes: HashMap<String, (Point, Point)>,
    paths: HashMap<usize, String>,
}

impl RenderBackend for Capture {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _: &StyleAttr,
        p: Option<String>,
        _: Option<ClipHandle>,
    ) {
        if let Some(id) = p {
            self.boxes.insert(id, (xy, size));
        }
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, _: Point, _: &str, _: &StyleAttr) {}

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        _head: (bool, bool),
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        let Some(index) = properties.and_then(|p| p.strip_prefix('e')?.parse::<usize>().ok())
        else {
            return;
        };
        if path.len() < 2 {
            return;
        }
        // Cubic Bézier segments, as layout-rs's own SVG backend writes them.
        let mut d = format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            path[0].0.x,
            path[0].0.y,
            path[0].1.x,
            path[0].1.y,
            path[1].0.x,
            path[1].0.y,
            path[1].1.x,
            path[1].1.y
        );
        for p in &path[2..] {
            let _ = write!(d, " S {:.1} {:.1}, {:.1} {:.1}", p.0.x, p.0.y, p.1.x, p.1.y);
        }
        self.paths.insert(index, d);
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// Lays the graph out left to right (sources → functions → sinks): a box
/// per node and a path per edge, shifted to a small margin. Store it in
/// `Topology::layout` for [`topology_svg`] or for the dashboard to draw.
pub fn topology_layout(topology: &Topology) -> GraphLayout {
    if topology.nodes.is_empty() {
        return GraphLayout::default();
    }
    let mut graph = VisualGraph::new(Orientation::LeftToRight);
    let mut handles = HashMap::new();
    for n in &topology.nodes {
        let size = pad_shape_scalar(get_size_for_str(&display_label(n), FONT), 14.0);
        let size = Point::new(size.x.max(96.0), size.y.max(34.0));
        let element = Element::create_with_properties(
            ShapeKind::new_box(&display_label(n)),
            StyleAttr::simple(),
            Orientation::LeftToRight,
            size,
            n.id.clone(),
        );
        handles.insert(n.id.clone(), graph.add_node(element));
    }
    for (i, e) in topology.edges.iter().enumerate() {
        if let (Some(&from), Some(&to)) = (handles.get(&e.from), handles.get(&e.to)) {
            graph.add_edge(Arrow::simple_with_properties("", format!("e{i}")), from, to);
        }
    }
    let mut capture = Capture::default();
    graph.do_it(false, false, false, &mut capture);

    // Shift everything so the drawing starts at the margin.
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (xy, size) in capture.boxes.values() {
        min_x = min_x.min(xy.x);
        min_y = min_y.min(xy.y);
        max_x = max_x.max(xy.x + size.x);
        max_y = max_y.max(xy.y + size.y);
    }
    let (dx, dy) = (MARGIN - min_x, MARGIN - min_y);
    let nodes = topology
        .nodes
        .iter()
        .filter_map(|n| {
            let (xy, size) = capture.boxes.get(&n.id)?;
            Some(NodeBox {
                id: n.id.clone(),
                x: xy.x + dx,
                y: xy.y + dy,
                width: size.x,
                height: size.y,
            })
        })
        .collect();
    let mut edges: Vec<EdgePath> = capture
        .paths
        .into_iter()
        .map(|(edge, d)| EdgePath {
            edge,
            path: shift_path(&d, dx, dy),
        })
        .collect();
    edges.sort_by_key(|e| e.edge);
    GraphLayout {
        width: (max_x - min_x) + 2.0 * MARGIN,
        height: (max_y - min_y) + 2.0 * MARGIN,
        nodes,
        edges,
    }
}

/// Moves every coordinate pair of an M/C/S path by (dx, dy).
fn shift_path(d: &str, dx: f64, dy: f64) -> String {
    let mut out = Vec::new();
    let mut numbers = 0usize;
    for token in d.split_whitespace() {
        let (num, comma) = match token.strip_suffix(',') {
            Some(t) => (t, ","),
            None => (token, ""),
        };
        match num.parse::<f64>() {
            Ok(v) => {
                let shifted = if numbers.is_multiple_of(2) {
                    v + dx
                } else {
                    v + dy
                };
                numbers += 1;
                out.push(format!("{shifted:.1}{comma}"));
            }
            Err(_) => out.push(token.to_string()),
        }
    }
    out.join(" ")
}

fn display_label(n: &TopologyNode) -> String {
    let icon = match n.kind {
        Kind::Route => "⇢ ",
        Kind::Cron => "◷ ",
        Kind::Topic => "# ",
        Kind::Queue => "☰ ",
        Kind::Host => "↗ ",
        Kind::Kv => "⛁ ",
        Kind::Function => "λ ",
    };
    let mut label = format!("{icon}{}", n.label);
    if label.chars().count() > 42 {
        label = label.chars().take(41).collect::<String>() + "…";
    }
    label
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Stroke width by call volume: 1.5 px idle, up to 8 px.
fn edge_width(calls: i64) -> f64 {
    if calls <= 0 {
        1.5
    } else {
        (1.5 + 1.6 * (calls as f64).log10() + 0.5).min(8.0)
    }
}

/// `idle`, `ok`, `warn` (≥ 1 % errors) or `bad` (≥ 10 %).
fn health(calls: i64, errors: i64) -> &'static str {
    if calls == 0 {
        "idle"
    } else if errors * 10 >= calls {
        "bad"
    } else if errors * 100 >= calls {
        "warn"
    } else {
        "ok"
    }
}

fn edge_title(t: &Topology, e: &TopologyEdge, from: &str, to: &str) -> String {
    let s = &e.stats;
    let mut title = format!("{from} → {to}\n");
    if e.declared && !e.observed {
        title.push_str("declared, no traffic in this window");
    } else {
        let _ = write!(
            title,
            "{} calls, {} errors ({:.1} %)\np50 {:.1} ms · p95 {:.1} ms\ncost {} {}",
            s.calls,
            s.errors,
            100.0 * s.error_rate(),
            s.p50_ms,
            s.p95_ms,
            s.cost,
            t.currency
        );
    }
    title
}

fn node_title(t: &Topology, n: &TopologyNode) -> String {
    match &n.stats {
        Some(s) => format!(
            "{} ({})\n{} invocations, {} errors\np50 {:.1} ms · p95 {:.1} ms\ncost {} {}",
            n.label, n.kind, s.calls, s.errors, s.p50_ms, s.p95_ms, s.cost, t.currency
        ),
        None => format!("{} ({})", n.label, n.kind),
    }
}

/// A standalone SVG of the graph, drawn where `t.layout` says (set it with
/// [`topology_layout`]; without one the drawing is empty). Function boxes
/// link to `{link_base}/functions/NAME`.
pub fn topology_svg(t: &Topology, link_base: &str) -> String {
    let empty = GraphLayout::default();
    let layout = t.layout.as_ref().unwrap_or(&empty);
    let labels: HashMap<&str, &TopologyNode> = t.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="Application topology">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke"/></marker></defs>
<style>
.edge{{fill:none;stroke-linecap:round}} .edge.idle{{stroke:#9aa5b1}} .edge.ok{{stroke:#2f855a}} .edge.warn{{stroke:#d69e2e}} .edge.bad{{stroke:#c53030}}
.edge.unused{{stroke-dasharray:6 5}} .node rect{{fill:#fff;stroke:#52606d;stroke-width:1.5}}
.node.function rect{{fill:#ebf4ff;stroke:#3c6fd8}} .node.route rect,.node.cron rect,.node.queue rect{{fill:#f0fff4;stroke:#2f855a}}
.node.topic rect{{fill:#fffaf0;stroke:#c05621}} .node.host rect,.node.kv rect{{fill:#f7fafc;stroke:#718096}}
.node.errors rect{{stroke:#c53030;stroke-width:3;fill:#fff5f5}} .node.match rect{{stroke:#805ad5;stroke-width:4}}
.node text{{font:{FONT}px system-ui,-apple-system,'Segoe UI',sans-serif;fill:#1f2933;dominant-baseline:middle;text-anchor:middle}}
a .node:hover rect{{filter:brightness(0.95)}}
</style>
"##,
        w = layout.width.max(1.0),
        h = layout.height.max(1.0),
    );
    for p in &layout.edges {
        let Some(e) = t.edges.get(p.edge) else {
            continue;
        };
        let from = labels
            .get(e.from.as_str())
            .map(|n| n.label.as_str())
            .unwrap_or(&e.from);
        let to = labels
            .get(e.to.as_str())
            .map(|n| n.label.as_str())
            .unwrap_or(&e.to);
        let unused = if e.declared && !e.observed {
            " unused"
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<path class="edge {}{unused}" data-from="{}" data-to="{}" d="{}" stroke-width="{:.1}" marker-end="url(#arrow)"><title>{}</title></path>"#,
            health(e.stats.calls, e.stats.errors),
            escape(&e.from),
            escape(&e.to),
            p.path,
            edge_width(e.stats.calls),
            escape(&edge_title(t, e, from, to)),
        );
    }
    for b in &layout.nodes {
        let Some(n) = labels.get(b.id.as_str()) else {
            continue;
        };
        let errors = n.stats.as_ref().is_some_and(|s| s.errors > 0);
        let group = format!(
            r#"<g class="node {}{}" data-id="{}" data-label="{}"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="8"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            n.kind,
            if errors { " errors" } else { "" },
            escape(&n.id),
            escape(&n.label.to_lowercase()),
            escape(&node_title(t, n)),
            b.x,
            b.y,
            b.width,
            b.height,
            b.x + b.width / 2.0,
            b.y + b.height / 2.0,
            escape(&display_label(n)),
        );
        if n.kind == Kind::Function {
            let _ = writeln!(
                svg,
                r#"<a href="{link_base}/functions/{0}" aria-label="Function {0}">{group}</a>"#,
                escape(&n.label)
            );
        } else {
            let _ = writeln!(svg, "{group}");
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz DOT of the graph: left to right, same colours and dashes (needs
/// no layout: Graphviz places it).
pub fn topology_dot(t: &Topology) -> String {
    let mut dot = String::from(
        "digraph wisp {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n",
    );
    for n in &t.nodes {
        let fill = match n.kind {
            Kind::Function => "#ebf4ff",
            Kind::Route | Kind::Cron | Kind::Queue => "#f0fff4",
            Kind::Topic => "#fffaf0",
            Kind::Host | Kind::Kv => "#f7fafc",
        };
        let errors = n.stats.as_ref().is_some_and(|s| s.errors > 0);
        let _ = writeln!(
            dot,
            "  {} [label={}, fillcolor=\"{fill}\"{}];",
            dot_id(&n.id),
            dot_id(&display_label(n)),
            if errors {
                ", color=\"#c53030\", penwidth=3"
            } else {
                ""
            }
        );
    }
    for e in &t.edges {
        let colour = match health(e.stats.calls, e.stats.errors) {
            "bad" => "#c53030",
            "warn" => "#d69e2e",
            "ok" => "#2f855a",
            _ => "#9aa5b1",
        };
        let label = if e.observed {
            format!("{} calls, {} errors", e.stats.calls, e.stats.errors)
        } else {
            "unused".to_string()
        };
        let _ = writeln!(
            dot,
            "  {} -> {} [label={}, color=\"{colour}\", penwidth={:.1}{}];",
            dot_id(&e.from),
            dot_id(&e.to),
            dot_id(&label),
            edge_width(e.stats.calls),
            if e.declared && !e.observed {
                ", style=dashed"
            } else {
                ""
            }
        );
    }
    dot.push_str("}\n");
    dot
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::FlowStats;

    fn topo() -> Topology {
        let n = |id: &str, kind: &str| TopologyNode {
            id: id.into(),
            kind: kind.parse().unwrap(),
            label: id.into(),
            stats: None,
        };
        let e = |from: &str, to: &str, calls: i64, declared: bool| TopologyEdge {
            from: from.into(),
            to: to.into(),
            declared,
            observed: calls > 0,
            stats: FlowStats {
                calls,
                errors: calls / 5,
                ..FlowStats::default()
            },
        };
        Topology {
            since: chrono::Utc::now(),
            until: chrono::Utc::now(),
            currency: "USD".into(),
            nodes: vec![
                n("route:1", "route"),
                n("fn:a", "function"),
                n("fn:b", "function"),
                n("topic:t", "topic"),
                n("host:x", "host"),
            ],
            edges: vec![
                e("route:1", "fn:a", 10, true),
                e("fn:a", "fn:b", 10, false),
                e("fn:a", "topic:t", 0, true),
                e("fn:b", "host:x", 3, false),
            ],
            layout: None,
        }
    }

    #[test]
    fn layout_goes_left_to_right_and_places_everything() {
        let mut t = topo();
        let l = topology_layout(&t);
        assert_eq!(l.nodes.len(), 5);
        assert_eq!(l.edges.len(), 4);
        let x = |id: &str| l.nodes.iter().find(|b| b.id == id).unwrap().x;
        assert!(x("route:1") < x("fn:a") && x("fn:a") < x("fn:b") && x("fn:b") < x("host:x"));
        assert!(l
            .nodes
            .iter()
            .all(|b| b.x >= 0.0 && b.y >= 0.0 && b.x + b.width <= l.width + 0.5));
        t.layout = Some(l);
        let svg = topology_svg(&t, "");
        assert!(svg.contains(r#"href="/functions/fn:a""#) || svg.contains(r#"href="/functions/"#));
        assert!(
            svg.contains("edge idle unused"),
            "declared unused edge is dashed"
        );
        assert!(svg.contains("edge bad"), "20 % errors is red");
        let dot = topology_dot(&t);
        assert!(dot.starts_with("digraph wisp {\n  rankdir=LR;"));
        assert!(dot.contains("\"fn:a\" -> \"topic:t\" [label=\"unused\""));
    }

    #[test]
    fn paths_shift() {
        assert_eq!(
            shift_path("M 1 2 C 3 4, 5 6, 7 8", 10.0, 100.0),
            "M 11.0 102.0 C 13.0 104.0, 15.0 106.0, 17.0 108.0"
        );
    }
}
