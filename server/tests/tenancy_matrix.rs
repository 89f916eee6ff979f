//! Issue 21's acceptance test: the tenancy matrix, generated rather than
//! hand-listed. It enumerates every operation of the server's OpenAPI
//! document and every server function the app registers (cross-checked
//! against the `#[server]` functions in app/src), and for each proves:
//!
//! - (a) another team's object (in the path, the body or the arguments) → 404;
//! - (b) a viewer's change → 403 (owners' and administrators' changes: 403
//!   for everyone below), while a viewer's read succeeds;
//! - (c) no credentials → 401;
//! - (d) every successful change leaves exactly one audit record naming the
//!   caller;
//!
//! and that read-only server functions are registered as GET, changing ones
//! as POST (column m). A route or server function missing from the sample
//! table (tenancy_matrix/samples.rs) fails the test, so a new one must be
//! given a sample, and with it these properties. Violations are collected
//! and listed together at the end, with the whole matrix.

mod common;
#[path = "tenancy_matrix/enumerate.rs"]
mod enumerate;
#[path = "tenancy_matrix/fill.rs"]
mod fill;
#[path = "tenancy_matrix/samples.rs"]
mod samples;
#[path = "tenancy_matrix/world.rs"]
mod world;

use app::error::AppError;
use enumerate::{rest_endpoints, server_fn_endpoints, Endpoint, Matrix, Surface, A, B, C, D, M};
use fill::{context, fill};
use samples::{Kind, Via, SELF_SERVICE};
use serde_json::Value;
use world::{Answer, Auth, Ctx, Who, World};

#[tokio::test]
async fn every_route_and_server_function_is_guarded_and_audited() {
    let server =
        common::TestServer::start_with(&["--retry-base-ms", "50", "--max-attempts", "1"]).await;
    let world = World::setup(&server).await;
    let mut matrix = Matrix::default();

    let mut endpoints = rest_endpoints(&world, &mut matrix).await;
    endpoints.extend(server_fn_endpoints(&mut matrix));
    // Calls that destroy or consume their object go last (stable sort).
    endpoints.sort_by_key(|e| e.sample.prepare.destructive());

    for e in &endpoints {
        check_registration(e, &mut matrix);
    }
    for e in &endpoints {
        check_nobody(&world, e, &mut matrix).await;
    }
    for e in &endpoints {
        check_roles(&world, e, &mut matrix).await;
    }
    // Own sessions for these calls: a wrongly allowed team switch must not
    // move the sessions the other checks use.
    let dev_probe = probe(&world, &world.red_dev).await;
    let owner_probe = probe(&world, &world.red_owner).await;
    for e in &endpoints {
        check_other_team(&world, e, &dev_probe, &owner_probe, &mut matrix).await;
    }
    for e in &endpoints {
        check_success_audited_once(&world, e, &mut matrix).await;
    }

    let mut table = format!(
        "tenancy matrix: {} operations (ok / FAIL / - not applicable)\n  {}\n",
        endpoints.len(),
        enumerate::COLUMNS.map(|c| format!("{c:<4}")).join(" ")
    );
    for (label, cells) in &matrix.cells {
        let cells: Vec<String> = cells.iter().map(|c| format!("{c:<4}")).collect();
        table.push_str(&format!("  {} {label}\n", cells.join(" ")));
    }
    eprintln!("{table}");
    assert!(
        matrix.violations.is_empty(),
        "{} tenancy violations:\n{}",
        matrix.violations.len(),
        matrix.violations.join("\n")
    );
}

/// A red caller with a session of its own (same user, token and role).
async fn probe(world: &World<'_>, who: &Who) -> Who {
    Who {
        cookie: world.login(&who.username, &who.password).await,
        ..who.clone()
    }
}

/// Calls `e` as `auth_as` (None: no credentials) with placeholders `ctx`;
/// `cookie` replaces the caller's session cookie.
async fn call(
    world: &World<'_>,
    e: &Endpoint,
    ctx: &Ctx,
    auth_as: Option<&Who>,
    cookie: Option<&str>,
) -> Result<Answer, String> {
    let filled = fill(e, ctx)?;
    let session = auth_as.map(|who| cookie.unwrap_or(&who.cookie));
    let answer = match e.surface {
        Surface::Rest => {
            let auth = match (auth_as, e.sample.via) {
                (None, _) => Auth::Nobody,
                (Some(who), Via::Token) => Auth::Token(&who.token),
                (Some(_), Via::Session) => Auth::Session(session.unwrap()),
            };
            world
                .call(&e.method, &filled.path, auth, filled.payload)
                .await
        }
        Surface::Rpc => {
            world
                .rpc(&e.method, &filled.path, session, filled.payload)
                .await
        }
    };
    Ok(answer)
}

/// What a server function's error body says, if it is an `AppError`.
fn app_error(answer: &Answer) -> Option<AppError> {
    serde_json::from_str(&answer.text).ok()
}

/// (m): the sample's kind agrees with the method; read-only server
/// functions are GET, changing ones POST.
fn check_registration(e: &Endpoint, matrix: &mut Matrix) {
    let kind = e.sample.kind;
    match e.surface {
        Surface::Rest => matrix.record(e, M, kind.changes() == (e.method != "GET"), || {
            format!("the sample's kind {kind:?} does not fit the method (fix the sample table)")
        }),
        Surface::Rpc => {
            let want = if kind.changes() { "POST" } else { "GET" };
            matrix.record(e, M, e.method == want, || {
                format!(
                    "a {} server function must be registered as {want} (input = {}), not {}",
                    if kind.changes() {
                        "changing"
                    } else {
                        "read-only"
                    },
                    if kind.changes() {
                        "PostUrl or Json"
                    } else {
                        "GetUrl"
                    },
                    e.method
                )
            });
        }
    }
    if matches!(kind, Kind::SelfService | Kind::Login | Kind::SignOut) {
        let listed = SELF_SERVICE.iter().any(|(key, _)| *key == e.sample.key);
        matrix.record(e, M, listed, || {
            "a self-service change must be in samples::SELF_SERVICE, with its reason".into()
        });
    }
}

/// (c): without credentials → 401 (sign-in excepted).
async fn check_nobody(world: &World<'_>, e: &Endpoint, matrix: &mut Matrix) {
    if e.sample.kind == Kind::Login {
        return;
    }
    let ctx = context(world, &world.red_viewer, false, &Ctx::new());
    if e.sample.kind == Kind::SignOut {
        let last_seen = latest_audit_id(world, &world.red_owner).await;
        let answer = match call(world, e, &ctx, None, None).await {
            Ok(answer) => answer,
            Err(problem) => return matrix.record(e, C, false, || problem),
        };
        let unchanged = latest_audit_id(world, &world.red_owner).await == last_seen;
        return matrix.record(e, C, answer.status < 400 && unchanged, || {
            format!(
                "signing out without a session: want a success that changes nothing, got {}",
                answer.brief()
            )
        });
    }
    match call(world, e, &ctx, None, None).await {
        Ok(answer) => {
            let body_ok =
                e.surface == Surface::Rest || app_error(&answer) == Some(AppError::Unauthorized);
            matrix.record(e, C, answer.status == 401 && body_ok, || {
                format!(
                    "without credentials: want 401 (Unauthorized), got {}",
                    answer.brief()
                )
            });
        }
        Err(problem) => matrix.record(e, C, false, || problem),
    }
}

/// (b): viewers (and for owners' or administrators' changes, everyone below)
/// are refused changes with 403; a viewer's read succeeds; an owner-only
/// read is refused to a viewer and answered for an owner.
async fn check_roles(world: &World<'_>, e: &Endpoint, matrix: &mut Matrix) {
    let (refused, allowed): (Vec<&Who>, Option<&Who>) = match e.sample.kind {
        Kind::Read => (vec![], Some(&world.red_viewer)),
        Kind::OwnerRead(_) => (vec![&world.red_viewer], Some(&world.red_owner)),
        Kind::AuditedRead(_) => (vec![&world.red_viewer], Some(&world.red_dev)),
        Kind::AdminRead(_) => (
            vec![&world.red_viewer, &world.red_dev, &world.red_owner],
            Some(&world.admin),
        ),
        Kind::Change => (vec![&world.red_viewer], None),
        Kind::OwnerChange => (vec![&world.red_viewer, &world.red_dev], None),
        Kind::AdminChange => (
            vec![&world.red_viewer, &world.red_dev, &world.red_owner],
            None,
        ),
        Kind::SelfService | Kind::Login | Kind::SignOut => return,
    };
    for who in refused {
        let ctx = context(world, who, false, &Ctx::new());
        match call(world, e, &ctx, Some(who), None).await {
            Ok(answer) => matrix.record(e, B, answer.status == 403, || {
                let why = match e.sample.kind {
                    Kind::OwnerRead(why) | Kind::AdminRead(why) | Kind::AuditedRead(why) => {
                        format!(" ({why})")
                    }
                    _ => String::new(),
                };
                format!("as {}: want 403{why}, got {}", who.username, answer.brief())
            }),
            Err(problem) => matrix.record(e, B, false, || problem),
        }
    }
    if let Some(who) = allowed {
        let ctx = context(world, who, false, &Ctx::new());
        match call(world, e, &ctx, Some(who), None).await {
            Ok(answer) => matrix.record(e, B, answer.ok(), || {
                format!(
                    "a read as {} of its own team must succeed, got {}",
                    who.username,
                    answer.brief()
                )
            }),
            Err(problem) => matrix.record(e, B, false, || problem),
        }
    }
}

/// (a): red's developer (or owner, for owners' operations) naming one of
/// blue's objects → 404 (`NotFound` from a server function).
async fn check_other_team(
    world: &World<'_>,
    e: &Endpoint,
    dev: &Who,
    owner: &Who,
    matrix: &mut Matrix,
) {
    let who = match e.sample.kind {
        Kind::Login | Kind::AdminChange | Kind::AdminRead(_) => return,
        Kind::OwnerChange | Kind::OwnerRead(_) => owner,
        Kind::Read | Kind::Change | Kind::AuditedRead(_) | Kind::SelfService | Kind::SignOut => dev,
    };
    let ctx = context(world, who, true, &Ctx::new());
    // Only operations that name an object (the fill tells).
    match fill(e, &ctx) {
        Ok(filled) if !filled.names_object => return,
        Ok(_) => {}
        Err(problem) => return matrix.record(e, A, false, || problem),
    }
    match call(world, e, &ctx, Some(who), None).await {
        Ok(answer) => {
            let also = e.sample.other_team_also;
            let status_ok = answer.status == 404 || also.is_some_and(|(s, _)| s == answer.status);
            let body_ok = e.surface == Surface::Rest
                || answer.status != 404
                || matches!(app_error(&answer), Some(AppError::NotFound(_)));
            matrix.record(e, A, status_ok && body_ok, || {
                let also = also
                    .map(|(s, why)| format!(" (or {s}: {why})"))
                    .unwrap_or_default();
                format!(
                    "another team's object as {}: want 404{also}, got {}",
                    who.username,
                    answer.brief()
                )
            });
        }
        Err(problem) => matrix.record(e, A, false, || problem),
    }
}

/// (d): a change with its sample on red's own (or throw-away) objects
/// succeeds and leaves exactly one new audit entry, naming the caller.
async fn check_success_audited_once(world: &World<'_>, e: &Endpoint, matrix: &mut Matrix) {
    let (caller, reader) = match e.sample.kind {
        Kind::Read | Kind::OwnerRead(_) | Kind::AdminRead(_) => return,
        Kind::Change | Kind::AuditedRead(_) => (&world.red_dev, &world.red_owner),
        Kind::OwnerChange => (&world.red_owner, &world.red_owner),
        Kind::AdminChange => (&world.admin, &world.admin),
        Kind::SelfService | Kind::Login | Kind::SignOut => (&world.red_viewer, &world.red_owner),
    };
    let (overrides, cookie) = world.prepare(e.sample.prepare, caller).await;
    let ctx = context(world, caller, false, &overrides);
    let last_seen = latest_audit_id(world, reader).await;
    let auth_as = (e.sample.kind != Kind::Login).then_some(caller);
    let answer = match call(world, e, &ctx, auth_as, cookie.as_deref()).await {
        Ok(answer) => answer,
        Err(problem) => return matrix.record(e, D, false, || problem),
    };
    if !answer.ok() {
        return matrix.record(e, D, false, || {
            format!(
                "as {} on its own objects: want success, got {}",
                caller.username,
                answer.brief()
            )
        });
    }
    let new: Vec<Value> = world
        .audit(&reader.token)
        .await
        .into_iter()
        .filter(|entry| entry["id"].as_i64().unwrap_or(0) > last_seen)
        .collect();
    let once = new.len() == 1 && new[0]["username"] == caller.username.as_str();
    matrix.record(e, D, once, || {
        format!(
            "want exactly one new audit entry naming {}, found {}: {}",
            caller.username,
            new.len(),
            Value::Array(new.clone())
        )
    });
}

async fn latest_audit_id(world: &World<'_>, reader: &Who) -> i64 {
    world
        .audit(&reader.token)
        .await
        .iter()
        .filter_map(|entry| entry["id"].as_i64())
        .max()
        .unwrap_or(0)
}
