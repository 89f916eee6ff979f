//! HTTP route triggers: method(s) + path pattern at the gateway root →
//! function. Patterns use `:param` (or `{param}`) segments and a trailing
//! `*` / `*name` wildcard; they are matched with `matchit` (axum's router),
//! and a route that would be ambiguous with an existing one is rejected when
//! it is created.

use std::collections::BTreeMap;

use crate::PlatformError;

/// Paths the gateway keeps for itself.
const RESERVED: [&str; 2] = ["/fn", "/healthz"];

/// One HTTP trigger as the table needs it.
#[derive(Clone, Debug)]
pub(crate) struct RouteEntry {
    pub trigger_id: String,
    pub function: String,
    /// As the user wrote it (`/orders/:id`).
    pub route: String,
    /// Upper-case; empty = any method.
    pub methods: Vec<String>,
}

/// A request the table routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    pub function: String,
    pub trigger_id: String,
    /// The route as written when the trigger was created.
    pub route: String,
    /// Values of the route's parameters (and wildcard), in order.
    pub params: Vec<(String, String)>,
}

/// What the table says about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteLookup {
    Found(RouteMatch),
    /// The path has routes, none for this method; these methods would do.
    MethodNotAllowed(Vec<String>),
    NotFound,
}

/// All HTTP routes, rebuilt whenever one is added or removed.
#[derive(Default)]
pub(crate) struct RouteTable {
    router: matchit::Router<usize>,
    groups: Vec<Vec<RouteEntry>>,
}

/// Turns `/orders/:id/*rest` into matchit's `/orders/{id}/{*rest}`.
pub(crate) fn normalize(route: &str) -> Result<String, PlatformError> {
    let bad = |why: &str| PlatformError::invalid(format!("route {route:?}: {why}"));
    if !route.starts_with('/') {
        return Err(bad("must start with '/'"));
    }
    let segments: Vec<&str> = route[1..].split('/').collect();
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        out.push('/');
        let name_ok =
            |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(name) = seg.strip_prefix(':') {
            if !name_ok(name) {
                return Err(bad("a parameter needs a name of letters, digits or '_'"));
            }
            out.push_str(&format!("{{{name}}}"));
        } else if let Some(name) = seg.strip_prefix('*') {
            if !last {
                return Err(bad("a '*' wildcard must be the last segment"));
            }
            let name = if name.is_empty() { "rest" } else { name };
            if !name_ok(name) {
                return Err(bad("a wildcard name must be letters, digits or '_'"));
            }
            out.push_str(&format!("{{*{name}}}"));
        } else if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (wild, name) = match inner.strip_prefix('*') {
                Some(n) => (true, n),
                None => (false, inner),
            };
            if !name_ok(name) || (wild && !last) {
                return Err(bad("invalid {parameter} segment"));
            }
            out.push_str(seg);
        } else {
            if seg
                .chars()
                .any(|c| matches!(c, '{' | '}' | ':' | '*' | '?' | '#'))
            {
                return Err(bad("literal segments cannot contain { } : * ? #"));
            }
            out.push_str(seg);
        }
    }
    let first = format!("/{}", segments[0]);
    if RESERVED.iter().any(|r| first.eq_ignore_ascii_case(r)) {
        return Err(bad("/fn and /healthz are reserved by the gateway"));
    }
    Ok(out)
}

/// Upper-cases and checks HTTP method names.
/// Whether some request path matches both routes (normalised patterns):
/// segment by segment a parameter matches anything, a `{*wildcard}` the
/// rest, and two static segments only when equal.
pub(crate) fn routes_overlap(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    let wild = |s: &str| s.starts_with("{*");
    let param = |s: &str| s.starts_with('{') && !s.starts_with("{*");
    for i in 0..a.len().max(b.len()) {
        match (a.get(i), b.get(i)) {
            (Some(x), _) if wild(x) => return true,
            (_, Some(y)) if wild(y) => return true,
            (Some(x), Some(y)) if param(x) || param(y) || x == y => continue,
            _ => return false,
        }
    }
    true
}

/// Whether two method lists share a method (empty: any method).
pub(crate) fn methods_overlap(a: &[String], b: &[String]) -> bool {
    overlap(a, b).is_some()
}

pub(crate) fn normalize_methods(methods: &[String]) -> Result<Vec<String>, PlatformError> {
    let mut out: Vec<String> = Vec::new();
    for m in methods {
        let m = m.trim().to_ascii_uppercase();
        if m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(PlatformError::invalid(format!(
                "{m:?} is not an HTTP method"
            )));
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

fn overlap(a: &[String], b: &[String]) -> Option<String> {
    if a.is_empty() || b.is_empty() {
        return Some("any method".into());
    }
    a.iter().find(|m| b.contains(m)).cloned()
}

impl RouteTable {
    /// Builds the table; a conflict names both routes.
    pub fn build(entries: &[RouteEntry]) -> Result<Self, PlatformError> {
        let mut groups: BTreeMap<String, Vec<RouteEntry>> = BTreeMap::new();
        for e in entries {
            let pattern = normalize(&e.route)?;
            let group = groups.entry(pattern).or_default();
            if let Some(existing) = group
                .iter()
                .find(|x| overlap(&x.methods, &e.methods).is_some())
            {
                let method = overlap(&existing.methods, &e.methods).unwrap_or_default();
                return Err(PlatformError::Conflict {
                    message: format!(
                        "route {} ({method}) conflicts with route {} of function {} (trigger {})",
                        e.route, existing.route, existing.function, existing.trigger_id
                    ),
                });
            }
            group.push(e.clone());
        }
        let mut table = RouteTable::default();
        for (pattern, group) in groups {
            let index = table.groups.len();
            if let Err(err) = table.router.insert(pattern.clone(), index) {
                let route = &group[0].route;
                return Err(PlatformError::Conflict {
                    message: format!("route {route} conflicts with an existing route: {err}"),
                });
            }
            table.groups.push(group);
        }
        Ok(table)
    }

    /// Routes `method path`.
    pub fn lookup(&self, method: &str, path: &str) -> RouteLookup {
        let Ok(found) = self.router.at(path) else {
            return RouteLookup::NotFound;
        };
        let group = &self.groups[*found.value];
        let params: Vec<(String, String)> = found
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let method = method.to_ascii_uppercase();
        match group
            .iter()
            .find(|e| e.methods.is_empty() || e.methods.contains(&method))
        {
            Some(e) => RouteLookup::Found(RouteMatch {
                function: e.function.clone(),
                trigger_id: e.trigger_id.clone(),
                route: e.route.clone(),
                params,
            }),
            None => RouteLookup::MethodNotAllowed(
                group.iter().flat_map(|e| e.methods.clone()).collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_overlap_when_some_path_matches_both() {
        let o = |a: &str, b: &str| routes_overlap(&normalize(a).unwrap(), &normalize(b).unwrap());
        assert!(o("/shop/*rest", "/shop/cart"));
        assert!(o("/shop/:id", "/shop/cart"));
        assert!(o("/:a/cart", "/shop/:b"));
        assert!(o("/*all", "/anything/at/all"));
        assert!(o("/shop", "/shop"));
        assert!(!o("/shop", "/shopping"));
        assert!(!o("/shop/:id", "/shop/a/b"));
        assert!(!o("/blog/*rest", "/shop/cart"));
    }

    fn entry(id: &str, route: &str, methods: &[&str]) -> RouteEntry {
        RouteEntry {
            trigger_id: id.into(),
            function: format!("f{id}"),
            route: route.into(),
            methods: methods.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn patterns_normalize() {
        assert_eq!(normalize("/orders/:id").unwrap(), "/orders/{id}");
        assert_eq!(normalize("/files/*").unwrap(), "/files/{*rest}");
        assert_eq!(normalize("/files/*path").unwrap(), "/files/{*path}");
        assert_eq!(normalize("/a/{b}/{*c}").unwrap(), "/a/{b}/{*c}");
        assert!(normalize("orders").is_err());
        assert!(normalize("/fn/x").is_err());
        assert!(normalize("/a/*/b").is_err());
        assert!(normalize("/a/:").is_err());
    }

    #[test]
    fn lookup_by_path_and_method() {
        let table = RouteTable::build(&[
            entry("1", "/orders/:id", &["GET"]),
            entry("2", "/orders/:id", &["POST", "PUT"]),
            entry("3", "/orders/new", &[]),
            entry("4", "/static/*", &[]),
        ])
        .unwrap();
        match table.lookup("get", "/orders/42") {
            RouteLookup::Found(m) => {
                assert_eq!(m.trigger_id, "1");
                assert_eq!(m.params, vec![("id".to_string(), "42".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(table.lookup("PUT", "/orders/42"), RouteLookup::Found(m) if m.trigger_id == "2")
        );
        assert!(
            matches!(table.lookup("DELETE", "/orders/new"), RouteLookup::Found(m) if m.trigger_id == "3")
        );
        assert_eq!(
            table.lookup("DELETE", "/orders/42"),
            RouteLookup::MethodNotAllowed(vec!["GET".into(), "POST".into(), "PUT".into()])
        );
        match table.lookup("GET", "/static/css/site.css") {
            RouteLookup::Found(m) => assert_eq!(m.params[0].1, "css/site.css"),
            other => panic!("{other:?}"),
        }
        assert_eq!(table.lookup("GET", "/nothing"), RouteLookup::NotFound);
    }

    #[test]
    fn conflicts_are_rejected() {
        let same = RouteTable::build(&[entry("1", "/a/:id", &["GET"]), entry("2", "/a/:id", &[])]);
        assert!(matches!(same, Err(PlatformError::Conflict { .. })));
        let renamed = RouteTable::build(&[entry("1", "/a/:id", &[]), entry("2", "/a/:name", &[])]);
        let Err(PlatformError::Conflict { message }) = renamed else {
            panic!("expected a conflict")
        };
        assert!(message.contains("/a/:name"), "{message}");
        assert!(RouteTable::build(&[
            entry("1", "/a/:id", &["GET"]),
            entry("2", "/a/:id", &["POST"])
        ])
        .is_ok());
    }
}
