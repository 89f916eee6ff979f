//! Filling a sample in: path parameters generated from their names (and
//! route family), placeholders in query, body and arguments replaced with
//! the fixture world's values, for the caller's team or, for check (a), the
//! other team's objects.

use serde_json::{json, Value};

use crate::enumerate::{Endpoint, Surface};
use crate::samples::{self, Args, OBJECT_PLACEHOLDERS};
use crate::world::{Ctx, Payload, Who, World};

/// The placeholders for a call by `caller`: red's objects (or, for check
/// (a), blue's wherever a placeholder names an object), then `overrides`.
pub fn context(world: &World<'_>, caller: &Who, other_team: bool, overrides: &Ctx) -> Ctx {
    let mut ctx = world.red.clone();
    if other_team {
        for key in OBJECT_PLACEHOLDERS {
            ctx.insert(*key, world.blue[key].clone());
        }
    }
    ctx.extend(overrides.iter().map(|(k, v)| (*k, v.clone())));
    ctx.insert("me", json!(caller.username));
    ctx.insert("me_password", json!(caller.password));
    ctx
}

/// A request filled in: path (with query), body, and whether it names an object.
pub struct Filled {
    pub path: String,
    pub payload: Payload,
    pub names_object: bool,
}

/// Replaces each `{placeholder}` in `template`; records the ones used.
fn fill_text(template: &str, ctx: &Ctx, used: &mut Vec<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').ok_or("unclosed placeholder")? + start;
        let name = &rest[start + 1..end];
        let value = ctx
            .get(name)
            .ok_or(format!("no value for placeholder {{{name}}}"))?;
        out.push_str(&rest[..start]);
        out.push_str(
            &value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string),
        );
        used.push(name.to_string());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_json(value: &Value, ctx: &Ctx, used: &mut Vec<String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let whole = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            match whole.and_then(|name| ctx.get(name).map(|v| (name, v))) {
                // `"{team_id}"` becomes the number itself.
                Some((name, v)) => {
                    used.push(name.to_string());
                    v.clone()
                }
                None => Value::String(fill_text(s, ctx, used)?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_json(v, ctx, used))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), fill_json(v, ctx, used)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

pub fn fill(e: &Endpoint, ctx: &Ctx) -> Result<Filled, String> {
    let mut used = Vec::new();
    let mut path = e.path.clone();
    if e.surface == Surface::Rest {
        // Path parameters, generated from their names.
        let mut filled = String::new();
        let mut rest = e.path.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').ok_or("unclosed path parameter")? + start;
            let param = &rest[start + 1..end];
            let placeholder = e
                .sample
                .params
                .iter()
                .find(|(p, _)| *p == param)
                .map(|(_, ph)| *ph)
                .or_else(|| samples::placeholder_for(&e.path, param))
                .ok_or(format!(
                    "no value for path parameter {{{param}}}: teach samples::placeholder_for \
                     its family or give the sample `params`"
                ))?;
            filled.push_str(&rest[..start]);
            filled.push_str(&fill_text(&format!("{{{placeholder}}}"), ctx, &mut used)?);
            rest = &rest[end + 1..];
        }
        filled.push_str(rest);
        path = filled;
        if !e.sample.query.is_empty() {
            path = format!("{path}?{}", fill_text(e.sample.query, ctx, &mut used)?);
        }
    }
    let payload = match e.sample.args {
        Args::None => Payload::None,
        Args::Json(template) => {
            let template: Value = serde_json::from_str(template)
                .map_err(|err| format!("the sample's JSON does not parse: {err}"))?;
            Payload::Json(fill_json(&template, ctx, &mut used)?)
        }
        Args::Text(text, content_type) => Payload::Bytes(text.as_bytes().to_vec(), content_type),
        Args::Wasm(fixture) => Payload::Bytes(crate::common::wasm(fixture), "application/wasm"),
        Args::Form(pairs) => Payload::Form(
            pairs
                .iter()
                .map(|(k, v)| Ok((k.to_string(), fill_text(v, ctx, &mut used)?)))
                .collect::<Result<_, String>>()?,
        ),
    };
    let names_object = used
        .iter()
        .any(|u| OBJECT_PLACEHOLDERS.contains(&u.as_str()));
    Ok(Filled {
        path,
        payload,
        names_object,
    })
}
