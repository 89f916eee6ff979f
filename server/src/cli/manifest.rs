//! `wisp.toml`, the application manifest as a file: its format (every field
//! in docs/MANIFEST.md; its JSON Schema is served at
//! `/api/v1/manifest.schema.json`), strict parsing, variables and
//! environments, the [`AppSpec`] it resolves to, and where in the file a
//! problem is (`wisp.toml:12: triggers[1].schedule: ...`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use model::{AppSpec, CaptureMode, FunctionSpec, ManifestProblem, NewTrigger, TriggerSpec};
use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

/// The manifest file's name in a project folder.
pub const MANIFEST_FILE: &str = "wisp.toml";

/// `wisp.toml` as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// The application's name (1-64 letters, digits, `-` or `_`).
    pub application: String,
    /// Values for `${name}` in env values and trigger fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Per-environment overrides of `variables` (`wisp apply --env NAME`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Environment>,
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerEntry>,
}

/// One `[environments.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// One `[functions.NAME]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionEntry {
    /// The component (or module) file, relative to the manifest.
    pub wasm: String,
    /// A shell command run in the manifest's folder when a source file is
    /// newer than `wasm` (or `wasm` is missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outbound_calls: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_sample_percent: Option<u32>,
}

/// One `[[triggers]]` table: the REST API's trigger body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerEntry {
    /// `http`, `cron`, `topic`, `nats`, `redis` or `mqtt`.
    pub kind: String,
    pub function: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

impl TriggerEntry {
    /// The manifest's form of a trigger.
    pub fn from_trigger(t: &NewTrigger) -> Self {
        let mut entry = TriggerEntry {
            kind: t.spec.kind().to_string(),
            function: t.function.clone(),
            max_attempts: t.max_attempts,
            ..Default::default()
        };
        match &t.spec {
            TriggerSpec::Http { route, methods } => {
                entry.route = Some(route.clone());
                entry.methods = (!methods.is_empty()).then(|| methods.clone());
            }
            TriggerSpec::Cron { schedule, timezone } => {
                entry.schedule = Some(schedule.clone());
                entry.timezone = Some(timezone.clone());
            }
            TriggerSpec::Topic { topic } => entry.topic = Some(topic.clone()),
            TriggerSpec::Nats {
                url,
                subject,
                stream,
            } => {
                entry.url = Some(url.clone());
                entry.subject = Some(subject.clone());
                entry.stream = stream.clone();
            }
            TriggerSpec::Redis { url, stream, group } => {
                entry.url = Some(url.clone());
                entry.stream = Some(stream.clone());
                entry.group = group.clone();
            }
            TriggerSpec::Mqtt { url, topic } => {
                entry.url = Some(url.clone());
                entry.topic = Some(topic.clone());
            }
        }
        entry
    }

    /// The fields set, by name (to refuse the ones a kind does not take).
    fn fields(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("route", self.route.is_some()),
            ("methods", self.methods.is_some()),
            ("schedule", self.schedule.is_some()),
            ("timezone", self.timezone.is_some()),
            ("topic", self.topic.is_some()),
            ("url", self.url.is_some()),
            ("subject", self.subject.is_some()),
            ("stream", self.stream.is_some()),
            ("group", self.group.is_some()),
        ]
    }
}

/// A manifest read from disk, with its text (for line numbers).
pub struct Loaded {
    pub path: PathBuf,
    /// The folder builds run in and wasm paths are relative to.
    pub dir: PathBuf,
    pub text: String,
    pub manifest: ManifestFile,
}

/// A function of the manifest as it will be built and uploaded.
pub struct LocalFunction {
    pub name: String,
    pub wasm: PathBuf,
    pub build: Option<String>,
}

/// A manifest's problems, each with its file, line and field; `Display`
/// prints one per line.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "the manifest has {} problem{}; nothing was changed:",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for line in &self.0 {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Loaded {
    /// Reads and parses `path` (unknown fields and wrong types refused,
    /// with their line).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let manifest: ManifestFile = toml::from_str(&text).map_err(|e| {
            let place = e.span().map(|span| {
                let path_here = path_at(&text, span.start);
                (line_of(&text, span.start), path_here)
            });
            let message = e.message().trim().to_string();
            match place {
                Some((line, field)) if !field.is_empty() => Problems(vec![format!(
                    "{}:{line}: {field}: {message}",
                    path.display()
                )]),
                Some((line, _)) => Problems(vec![format!("{}:{line}: {message}", path.display())]),
                None => Problems(vec![format!("{}: {message}", path.display())]),
            }
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Loaded {
            path: path.to_path_buf(),
            dir,
            text,
            manifest,
        })
    }

    /// `file:line: path: message` for a problem at `path`.
    pub fn locate(&self, problem: &ManifestProblem) -> String {
        let line = span_of(&self.text, &problem.path)
            .map(|span| line_of(&self.text, span.start))
            .unwrap_or(1);
        format!(
            "{}:{line}: {}: {}",
            self.path.display(),
            problem.path,
            problem.message
        )
    }

    /// The spec for environment `env` (its variables over the defaults),
    /// with each function's wasm still to be hashed; or every problem found.
    pub fn resolve(
        &self,
        env: Option<&str>,
    ) -> Result<(String, Vec<LocalFunction>, AppSpec), Problems> {
        let m = &self.manifest;
        let mut problems = Vec::new();
        let mut variables = m.variables.clone();
        if let Some(env) = env {
            match m.environments.get(env) {
                Some(e) => variables.extend(e.variables.clone()),
                None => problems.push(ManifestProblem {
                    path: "environments".into(),
                    message: format!(
                        "no environment {env:?} (the manifest defines: {})",
                        if m.environments.is_empty() {
                            "none".to_string()
                        } else {
                            m.environments
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                }),
            }
        }
        let fill = |problems: &mut Vec<ManifestProblem>, path: String, value: &str| -> String {
            match interpolate(value, &variables) {
                Ok(v) => v,
                Err(message) => {
                    problems.push(ManifestProblem { path, message });
                    value.to_string()
                }
            }
        };
        let mut local = Vec::new();
        let mut spec = AppSpec::default();
        for (name, f) in &m.functions {
            let env: BTreeMap<String, String> = f
                .env
                .iter()
                .map(|(k, v)| {
                    let path = format!("functions.{name}.env.{k}");
                    (k.clone(), fill(&mut problems, path, v))
                })
                .collect();
            local.push(LocalFunction {
                name: name.clone(),
                wasm: self.dir.join(&f.wasm),
                build: f.build.clone(),
            });
            spec.functions.push(FunctionSpec {
                name: name.clone(),
                sha256: String::new(),
                memory_mb: f.memory_mb,
                timeout_ms: f.timeout_ms,
                max_concurrency: f.max_concurrency,
                max_outbound_calls: f.max_outbound_calls,
                env,
                secrets: f.secrets.clone(),
                allowed_hosts: f.allowed_hosts.clone(),
                capture: f.capture,
                capture_sample_percent: f.capture_sample_percent,
            });
        }
        let mut triggers = Vec::new();
        for (i, t) in m.triggers.iter().enumerate() {
            let mut t = t.clone();
            for value in [
                &mut t.route,
                &mut t.schedule,
                &mut t.timezone,
                &mut t.topic,
                &mut t.url,
                &mut t.subject,
                &mut t.stream,
                &mut t.group,
            ]
            .into_iter()
            .flatten()
            {
                *value = fill(&mut problems, format!("triggers[{i}]"), value);
            }
            match trigger_spec(&t) {
                Ok(spec) => {
                    if !m.functions.contains_key(&t.function) {
                        problems.push(ManifestProblem {
                            path: format!("triggers[{i}].function"),
                            message: format!(
                                "the trigger names function {:?}, which the manifest does not \
                                 define (it defines: {})",
                                t.function,
                                m.functions.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        });
                    }
                    triggers.push(NewTrigger {
                        function: t.function.clone(),
                        spec,
                        max_attempts: t.max_attempts,
                    });
                }
                Err((field, message)) => problems.push(ManifestProblem {
                    path: match field {
                        Some(field) => format!("triggers[{i}].{field}"),
                        None => format!("triggers[{i}]"),
                    },
                    message,
                }),
            }
        }
        spec.triggers = triggers;
        if problems.is_empty() {
            Ok((m.application.clone(), local, spec))
        } else {
            Err(self.problems(&problems))
        }
    }

    /// `problems` located in this file.
    pub fn problems(&self, problems: &[ManifestProblem]) -> Problems {
        Problems(problems.iter().map(|p| self.locate(p)).collect())
    }
}

/// The trigger spec a `[[triggers]]` table describes, or the field at fault.
fn trigger_spec(t: &TriggerEntry) -> Result<TriggerSpec, (Option<&'static str>, String)> {
    let takes: &[&str] = match t.kind.as_str() {
        "http" => &["route", "methods"],
        "cron" => &["schedule", "timezone"],
        "topic" => &["topic"],
        "nats" => &["url", "subject", "stream"],
        "redis" => &["url", "stream", "group"],
        "mqtt" => &["url", "topic"],
        other => {
            return Err((
                Some("kind"),
                format!(
                    "unknown trigger kind {other:?}; use http, cron, topic, nats, redis or mqtt"
                ),
            ))
        }
    };
    for (field, set) in t.fields() {
        if set && !takes.contains(&field) {
            return Err((
                Some(field),
                format!(
                    "a {} trigger has no field {field} (it takes: {})",
                    t.kind,
                    takes.join(", ")
                ),
            ));
        }
    }
    let need = |field: &'static str, value: &Option<String>| {
        value
            .clone()
            .ok_or((None, format!("a {} trigger needs {field}", t.kind)))
    };
    Ok(match t.kind.as_str() {
        "http" => TriggerSpec::Http {
            route: need("route", &t.route)?,
            methods: t.methods.clone().unwrap_or_default(),
        },
        "cron" => TriggerSpec::Cron {
            schedule: need("schedule", &t.schedule)?,
            timezone: t.timezone.clone().unwrap_or_else(|| "UTC".into()),
        },
        "topic" => TriggerSpec::Topic {
            topic: need("topic", &t.topic)?,
        },
        "nats" => TriggerSpec::Nats {
            url: need("url", &t.url)?,
            subject: need("subject", &t.subject)?,
            stream: t.stream.clone(),
        },
        "redis" => TriggerSpec::Redis {
            url: need("url", &t.url)?,
            stream: need("stream", &t.stream)?,
            group: t.group.clone(),
        },
        _ => TriggerSpec::Mqtt {
            url: need("url", &t.url)?,
            topic: need("topic", &t.topic)?,
        },
    })
}

/// `value` with each `${name}` replaced by its variable (`$${` is a
/// literal `${`).
fn interpolate(value: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed ${{ in {value:?}"));
        };
        let name = &after[..end];
        match variables.get(name) {
            Some(v) => out.push_str(v),
            None => {
                return Err(format!(
                    "no variable {name:?} (define it under [variables] or the environment's \
                     variables)"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `value` written so that [`interpolate`] gives it back (`${` escaped).
pub fn escape(value: &str) -> String {
    value.replace("${", "$${")
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// One step of a manifest path: a key or an array index.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// `functions.api.env.A` / `triggers[2].schedule` as segments.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        match part.find('[') {
            Some(open) => {
                out.push(Segment::Key(&part[..open]));
                let index = part[open + 1..].trim_end_matches(']');
                if let Ok(i) = index.parse() {
                    out.push(Segment::Index(i));
                }
            }
            None => out.push(Segment::Key(part)),
        }
    }
    out
}

/// Where `path` is in `text`: the span of its key (an array item: the
/// item), or of the deepest part of it that exists (a missing field: its
/// table's).
fn span_of(text: &str, path: &str) -> Option<Range<usize>> {
    let root = DeTable::parse(text).ok()?;
    let mut span = None;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    for segment in segments(path) {
        let found = match segment {
            Segment::Key(key) => table.and_then(|t| {
                t.iter()
                    .find(|(k, _)| k.get_ref().as_ref() == key)
                    .map(|(k, v)| (k.span(), v))
            }),
            Segment::Index(i) => array.and_then(|a| a.get(i)).map(|v| (v.span(), v)),
        };
        let Some((at, value)) = found else { break };
        span = Some(at);
        table = value.get_ref().as_table();
        array = value.get_ref().as_array().map(|a| &a[..]);
    }
    span
}

/// The table byte `offset` is in, by the last `[table]` or `[[array]]`
/// header before it (`functions.api`, `triggers[2]`); empty at the top.
fn path_at(text: &str, offset: usize) -> String {
    let mut path = String::new();
    let mut arrays: BTreeMap<String, usize> = BTreeMap::new();
    for line in text[..offset.min(text.len())].lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let index = arrays.entry(name.clone()).or_insert(0);
            path = format!("{name}[{index}]");
            *index += 1;
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            path = name.trim().to_string();
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = r#"application = "shop"

[variables]
greeting = "hello"

[environments.staging.variables]
greeting = "hi"

[functions.api]
wasm = "api.wasm"
memory_mb = 64
env = { GREETING = "${greeting} world" }

[[triggers]]
kind = "http"
function = "api"
route = "/api"

[[triggers]]
kind = "cron"
function = "api"
schedule = "*/5 * * * *"
"#;

    fn loaded(text: &str) -> Loaded {
        Loaded {
            path: PathBuf::from("wisp.toml"),
            dir: PathBuf::from("."),
            text: text.to_string(),
            manifest: toml::from_str(text).unwrap(),
        }
    }

    #[test]
    fn variables_and_environments_fill_env_values() {
        let m = loaded(SHOP);
        let (_, _, spec) = m.resolve(None).unwrap();
        assert_eq!(spec.functions[0].env["GREETING"], "hello world");
        let (_, _, spec) = m.resolve(Some("staging")).unwrap();
        assert_eq!(spec.functions[0].env["GREETING"], "hi world");
        let err = m.resolve(Some("prod")).err().unwrap();
        assert!(err.0[0].contains("no environment \"prod\""), "{err}");
        assert_eq!(spec.triggers.len(), 2);
    }

    #[test]
    fn a_problem_is_located_at_its_line() {
        let m = loaded(SHOP);
        let located = m.locate(&ManifestProblem {
            path: "triggers[1].schedule".into(),
            message: "bad".into(),
        });
        assert_eq!(located, "wisp.toml:22: triggers[1].schedule: bad");
        let located = m.locate(&ManifestProblem {
            path: "functions.api.memory_mb".into(),
            message: "too big".into(),
        });
        assert!(located.starts_with("wisp.toml:11:"), "{located}");
    }

    #[test]
    fn a_trigger_of_an_absent_function_and_a_field_of_another_kind_are_refused() {
        let text = SHOP.replace("function = \"api\"\nroute", "function = \"web\"\nroute")
            + "\n[[triggers]]\nkind = \"topic\"\nfunction = \"api\"\nschedule = \"x\"\n";
        let err = loaded(&text).resolve(None).err().unwrap();
        assert!(
            err.0
                .iter()
                .any(|p| p.starts_with("wisp.toml:16: triggers[0].function")),
            "{err}"
        );
        assert!(
            err.0
                .iter()
                .any(|p| p.contains("triggers[2].schedule") && p.contains("has no field schedule")),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line_and_table() {
        let dir = std::env::temp_dir().join(format!("wisp-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wisp.toml");
        std::fs::write(&path, SHOP.replace("memory_mb = 64", "memroy_mb = 64")).unwrap();
        let err = Loaded::read(&path).err().unwrap().to_string();
        assert!(err.contains(":11: functions.api"), "{err}");
        assert!(err.contains("memroy_mb"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    /// The published JSON Schema (docs/manifest.schema.json) names exactly
    /// the fields the parser takes.
    #[test]
    fn the_schema_names_every_field_the_parser_takes() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/manifest.schema.json")).unwrap();
        let names = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let fields = |v: serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let all = |s: Option<String>| s.or(Some("x".into()));
        let function = FunctionEntry {
            build: all(None),
            memory_mb: Some(1),
            timeout_ms: Some(1),
            max_concurrency: Some(1),
            max_outbound_calls: Some(1),
            env: BTreeMap::from([("A".into(), "1".into())]),
            secrets: vec!["S".into()],
            allowed_hosts: vec!["h".into()],
            capture: Some(CaptureMode::All),
            capture_sample_percent: Some(1),
            ..Default::default()
        };
        let trigger = TriggerEntry {
            route: all(None),
            methods: Some(vec![]),
            schedule: all(None),
            timezone: all(None),
            topic: all(None),
            url: all(None),
            subject: all(None),
            stream: all(None),
            group: all(None),
            max_attempts: Some(1),
            ..Default::default()
        };
        let file = ManifestFile {
            variables: BTreeMap::from([("v".into(), "1".into())]),
            environments: BTreeMap::from([("e".into(), Environment::default())]),
            functions: BTreeMap::from([("f".into(), function.clone())]),
            triggers: vec![trigger.clone()],
            ..Default::default()
        };
        let json = |v: serde_json::Result<serde_json::Value>| fields(v.unwrap());
        assert_eq!(names(&schema), json(serde_json::to_value(&file)));
        assert_eq!(
            names(&schema["$defs"]["function"]),
            json(serde_json::to_value(&function))
        );
        assert_eq!(
            names(&schema["$defs"]["trigger"]),
            json(serde_json::to_value(&trigger))
        );
    }

    #[test]
    fn unknown_variables_are_named() {
        assert_eq!(
            interpolate("a${x}b", &BTreeMap::from([("x".into(), "1".into())])).unwrap(),
            "a1b"
        );
        assert!(interpolate("${nope}", &BTreeMap::new())
            .unwrap_err()
            .contains("\"nope\""));
        let literal = "pay ${amount} $${x}";
        assert_eq!(
            interpolate(&escape(literal), &BTreeMap::new()).unwrap(),
            literal
        );
    }
}
