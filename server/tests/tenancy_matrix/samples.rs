//! The tenancy matrix's sample table: for each REST route (keyed
//! `METHOD /path/template` as in the OpenAPI document) and each dashboard
//! server function (keyed by its name), what kind of operation it is and the
//! arguments that make one call of it succeed on the caller's own objects.
//!
//! The table does not decide WHAT is tested: the routes come from the
//! server's OpenAPI document and the server functions from the app's
//! registry. A route or server function without a row here fails the test.
//!
//! Placeholders (`{fn}`, `{trigger}`, ...) are filled from the fixture world
//! (see `world.rs`): with the caller's team's objects, or, for check (a),
//! with the other team's objects wherever a placeholder names an object.

/// What an operation is, which decides the checks it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Reads: any member of the team (a viewer too) succeeds.
    Read,
    /// A read only owners may make (viewer: 403; owner: success).
    OwnerRead(&'static str),
    /// A read only developers and owners make, audited once like a change
    /// (what it shows is sensitive); viewer: 403.
    AuditedRead(&'static str),
    /// A read only server administrators make (it spans every team);
    /// every team role: 403, an administrator: success.
    AdminRead(&'static str),
    /// A change a developer (or owner) makes; viewer: 403.
    Change,
    /// A change only the team's owners make; viewer and developer: 403.
    OwnerChange,
    /// A change only server administrators make; everyone else: 403.
    AdminChange,
    /// A change any member (even a viewer) may make to what is their own;
    /// still audited once. See [`SELF_SERVICE`].
    SelfService,
    /// Signing in: unauthenticated by nature (no 401/403 checks), audited once.
    Login,
    /// Signing out: self-service with a session (audited once); without
    /// one there is nothing to end, so it answers success and changes
    /// nothing (no audit entry) instead of 401 — a browser with a stale
    /// cookie must still get back to the sign-in page.
    SignOut,
}

impl Kind {
    pub fn changes(self) -> bool {
        !matches!(
            self,
            Kind::Read | Kind::OwnerRead(_) | Kind::AdminRead(_) | Kind::AuditedRead(_)
        )
    }
}

/// The ONE list of changes a viewer may make (each still audited once):
/// (key, reason). A `SelfService` row whose key is not here fails the test.
pub const SELF_SERVICE: &[(&str, &str)] = &[
    (
        "POST /api/v1/login",
        "signing in is how anyone gets a session",
    ),
    ("login", "signing in is how anyone gets a session"),
    ("logout", "ending one's own session"),
    (
        "POST /api/v1/session/team",
        "choosing which of one's teams the session acts for",
    ),
    (
        "switch_team",
        "choosing which of one's teams the session acts for",
    ),
    (
        "DELETE /api/v1/sessions/{id}",
        "ending one's own session (a lost laptop)",
    ),
    ("end_session", "ending one's own session (a lost laptop)"),
    (
        "POST /api/v1/tokens",
        "one's own API token, with at most one's own role",
    ),
    (
        "create_token",
        "one's own API token, with at most one's own role",
    ),
    ("DELETE /api/v1/tokens/{id}", "revoking one's own API token"),
    ("revoke_token", "revoking one's own API token"),
];

/// Objects made just before the successful call (d), so that destructive
/// calls work on throw-away objects; each overrides placeholders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepare {
    None,
    /// A new function of the team (`{fn}`).
    ScratchFunction,
    /// A new trigger of the team's function (`{trigger}`).
    ScratchTrigger,
    /// A new key-value entry (`{kv_key}`).
    ScratchKey,
    /// A new alert rule of the team (`{alert}`).
    ScratchAlert,
    /// A new API token of the caller (`{token}`).
    ScratchToken,
    /// A new session of the caller (`{session}`).
    ScratchSession,
    /// A new session of the caller whose cookie the call is made with.
    ScratchCookie,
    /// A new user, not yet a member (`{new_user}`).
    ScratchUser,
    /// A new user made a viewer of the team (`{member}`).
    ScratchMember,
    /// A new dead letter of the team (`{dead}`).
    DeadJob,
}

impl Prepare {
    /// Calls that destroy or consume their object run after the others.
    pub fn destructive(self) -> bool {
        !matches!(self, Prepare::None | Prepare::ScratchUser)
    }
}

/// The request body (REST) or arguments (server function) of a sample.
#[derive(Clone, Copy, Debug)]
pub enum Args {
    None,
    /// A JSON document (placeholders inside strings are filled).
    Json(&'static str),
    /// Raw bytes with a content type (REST).
    Text(&'static str, &'static str),
    /// A built function fixture (`functions/<name>.wasm`) as `application/wasm`.
    Wasm(&'static str),
    /// Server-function arguments, form- or query-encoded.
    Form(&'static [(&'static str, &'static str)]),
}

/// How a REST sample authenticates as its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Token,
    /// The session cookie (with the CSRF header): for session-only routes.
    Session,
}

#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub key: &'static str,
    pub kind: Kind,
    /// Path parameters bound to another placeholder than the generated one.
    pub params: &'static [(&'static str, &'static str)],
    /// Query string (REST), without `?`.
    pub query: &'static str,
    pub args: Args,
    pub prepare: Prepare,
    pub via: Via,
    /// Statuses (a) accepts besides 404, with the reason.
    pub other_team_also: Option<(u16, &'static str)>,
}

const fn s(key: &'static str, kind: Kind) -> Sample {
    Sample {
        key,
        kind,
        params: &[],
        query: "",
        args: Args::None,
        prepare: Prepare::None,
        via: Via::Token,
        other_team_also: None,
    }
}

impl Sample {
    const fn args(mut self, args: Args) -> Self {
        self.args = args;
        self
    }
    const fn query(mut self, query: &'static str) -> Self {
        self.query = query;
        self
    }
    const fn prepare(mut self, prepare: Prepare) -> Self {
        self.prepare = prepare;
        self
    }
    const fn params(mut self, params: &'static [(&'static str, &'static str)]) -> Self {
        self.params = params;
        self
    }
    const fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }
}

use Args::{Form, Json, Text, Wasm};
use Kind::{
    AdminChange, AdminRead, AuditedRead, Change, Login, OwnerChange, OwnerRead, Read, SelfService,
    SignOut,
};

const PLAN: &str = r#"{"currency": "USD", "per_million_requests": "1", "per_gb_second": "1",
    "per_gb_egress": "1", "server_monthly": "0"}"#;
const CONFIG: &str = r#"{"name": "{fn}", "form": {"memory_mb": "128", "timeout_ms": "5000",
    "max_concurrency": "10", "env": [["MATRIX", "1"]], "allowed_hosts": []}}"#;

/// An application spec naming nothing: a plan or apply of it changes
/// nothing (without `prune`).
const EMPTY_APP: &str = r#"{"functions": [], "triggers": []}"#;
/// Why another team's application name is not a 404.
const APP_NAMESPACE: &str = "application names are each team's own: another team's name is an \
     application of the caller's team (its own functions, or none)";

/// REST routes, keyed as the OpenAPI document names them.
pub const ROUTES: &[Sample] = &[
    s(
        "GET /api/v1/audit",
        OwnerRead("the audit log is for the team's owners"),
    ),
    s("GET /api/v1/costs", Read),
    s("GET /api/v1/costs/{file}", Read),
    s("GET /api/v1/cron/preview", Read).query("schedule=@hourly"),
    s("GET /api/v1/errors", Read).query("function={fn}"),
    s("GET /api/v1/dead-letters", Read),
    s(
        "GET /api/v1/nodes",
        AdminRead("the cluster's nodes are server-wide"),
    ),
    s(
        "GET /api/v1/server",
        AdminRead("the server's facts are the administrators'"),
    ),
    s("GET /api/v1/functions", Read),
    s("GET /api/v1/functions/{name}", Read),
    s("GET /api/v1/functions/{name}/invocations", Read),
    s("GET /api/v1/functions/{name}/versions/{version}/wasm", Read),
    Sample {
        other_team_also: Some((200, APP_NAMESPACE)),
        ..s("GET /api/v1/applications/{name}/manifest", Read).params(&[("name", "kv_app")])
    },
    Sample {
        other_team_also: Some((200, APP_NAMESPACE)),
        ..s("POST /api/v1/applications/{name}/plan", Change)
            .params(&[("name", "kv_app")])
            .args(Json(EMPTY_APP))
    },
    Sample {
        other_team_also: Some((200, APP_NAMESPACE)),
        ..s("POST /api/v1/applications/{name}/apply", Change)
            .params(&[("name", "kv_app")])
            .args(Json(EMPTY_APP))
    },
    s("GET /api/v1/invocations/stream", Read),
    s("GET /api/v1/invocations/{id}", Read),
    s("GET /api/v1/invocations/{id}/children", Read),
    s(
        "GET /api/v1/invocations/{id}/capture",
        AuditedRead("a capture holds what the call sent and received"),
    ),
    s("POST /api/v1/invocations/{id}/replay", Change),
    s("POST /api/v1/functions/{name}/replay", Change).args(Json(r#"{"last": 1}"#)),
    s("GET /api/v1/traces/{trace_id}", Read),
    s("GET /api/v1/jobs", Read),
    s("GET /api/v1/jobs/stats", Read),
    s("GET /api/v1/jobs/{id}", Read),
    s("GET /api/v1/kv", Read).query("application=default"),
    s("GET /api/v1/kv/{application}/{key}", Read),
    s("GET /api/v1/logs", Read).query("q=matrix&function={fn}"),
    s("GET /api/v1/overview", Read),
    s("GET /api/v1/price-plan", Read),
    s("GET /api/v1/retention", Read),
    s("GET /api/v1/alerts", Read),
    s("GET /api/v1/alerts/history", Read),
    s("GET /api/v1/alerts/{id}", Read),
    s("GET /api/v1/sessions", Read),
    s("GET /api/v1/team/members", Read),
    s("GET /api/v1/teams", Read),
    s("GET /api/v1/tokens", Read),
    s("GET /api/v1/topology", Read),
    s("GET /api/v1/triggers", Read),
    s("GET /api/v1/triggers/{id}", Read),
    s("GET /api/v1/whoami", Read),
    s("PATCH /api/v1/functions/{name}", Change).args(Json(r#"{"timeout_ms": 5000}"#)),
    s("POST /api/v1/functions/{name}/alias", Change).args(Json(r#"{"version": 1}"#)),
    s("POST /api/v1/functions/{name}/invoke", Change),
    Sample {
        other_team_also: Some((
            409,
            "a function name is a global gateway URL: another team's name is taken (409)",
        )),
        ..s("POST /api/v1/functions/{name}/versions", Change).args(Wasm("hello"))
    },
    s("POST /api/v1/topics/{topic}", Change).args(Text("matrix event", "text/plain")),
    s("POST /api/v1/triggers", Change).args(Json(
        r#"{"kind": "topic", "function": "{fn}", "topic": "matrix-rest"}"#,
    )),
    s("PUT /api/v1/triggers/{id}", Change).args(Json(
        r#"{"kind": "topic", "function": "{fn}", "topic": "matrix-moved"}"#,
    )),
    s("PUT /api/v1/kv/{application}/{key}", Change)
        .params(&[("key", "new_key")])
        .args(Text("matrix value", "text/plain")),
    s("POST /api/v1/dead-letters/{id}/redrive", Change).prepare(Prepare::DeadJob),
    s("DELETE /api/v1/kv/{application}/{key}", Change).prepare(Prepare::ScratchKey),
    s("DELETE /api/v1/triggers/{id}", Change).prepare(Prepare::ScratchTrigger),
    s("DELETE /api/v1/functions/{name}", Change).prepare(Prepare::ScratchFunction),
    s("PUT /api/v1/team/members/{username}", OwnerChange)
        .params(&[("username", "new_user")])
        .args(Json(r#"{"role": "viewer"}"#))
        .prepare(Prepare::ScratchUser),
    s("DELETE /api/v1/team/members/{username}", OwnerChange).prepare(Prepare::ScratchMember),
    s("POST /api/v1/users", AdminChange).args(Json(
        r#"{"username": "matrix-user", "password": "matrix-password"}"#,
    )),
    s("POST /api/v1/teams", AdminChange).args(Json(r#"{"name": "matrix-team"}"#)),
    s("PUT /api/v1/price-plan", AdminChange).args(Json(PLAN)),
    s("POST /api/v1/alerts", Change).args(Json(
        r#"{"name": "matrix-{me}", "metric": "error_rate", "threshold": 50, "function": "{fn}"}"#,
    )),
    s("DELETE /api/v1/alerts/{id}", Change).prepare(Prepare::ScratchAlert),
    s("PUT /api/v1/retention/server", AdminChange).args(Json(r#"{"days": 30}"#)),
    s("PUT /api/v1/retention/team", OwnerChange).args(Json(r#"{"days": 45}"#)),
    s("POST /api/v1/login", Login)
        .args(Json(r#"{"username": "{me}", "password": "{me_password}"}"#)),
    s("POST /api/v1/session/team", SelfService)
        .args(Json(r#"{"team_id": "{team_id}"}"#))
        .via(Via::Session),
    s("POST /api/v1/tokens", SelfService).args(Json(r#"{"name": "matrix", "role": "viewer"}"#)),
    s("DELETE /api/v1/tokens/{id}", SelfService).prepare(Prepare::ScratchToken),
    s("DELETE /api/v1/sessions/{id}", SelfService).prepare(Prepare::ScratchSession),
];

/// Dashboard server functions, keyed by function name.
pub const SERVER_FNS: &[Sample] = &[
    s("current_user", Read),
    s("list_functions", Read),
    s("list_function_page", Read),
    s("load_function", Read).args(Form(&[("name", "{fn}")])),
    s("list_invocations", Read).args(Form(&[("name", "{fn}")])),
    s("invocation", Read).args(Form(&[("id", "{invocation}")])),
    s("invocation_children", Read).args(Form(&[("id", "{invocation}")])),
    s("capture_state", Read).args(Form(&[("id", "{invocation}")])),
    s("load_trace", Read).args(Form(&[("trace_id", "{trace}")])),
    s("search_logs", Read).args(Form(&[("q", "matrix"), ("function", "{fn}")])),
    s("error_groups", Read).args(Form(&[("function", "{fn}")])),
    s(
        "cluster_nodes",
        AdminRead("the cluster's nodes are server-wide"),
    ),
    s("month_costs", Read),
    s("load_application", Read).args(Form(&[("name", "{kv_app}")])),
    s("load_overview", Read),
    s("load_retention", Read),
    s(
        "load_server_info",
        AdminRead("the server's facts are the administrators'"),
    ),
    s("load_alerts", Read),
    s("list_tokens", Read),
    s("list_triggers", Read),
    s("function_names", Read),
    s("cron_preview", Read).args(Form(&[("schedule", "@hourly"), ("timezone", "UTC")])),
    s("dead_letters", Read),
    s("kv_entries", Read).args(Form(&[("application", "default"), ("prefix", "")])),
    s("load_topology", Read).args(Form(&[("window", "1h")])),
    s("load_team", Read),
    s("load_recorder_health", Read),
    s("create_alert", Change).args(Form(&[
        ("name", "matrix-form-{me}"),
        ("metric", "error_rate"),
        ("threshold", "50"),
        ("scope", "team"),
        ("target", ""),
        ("window_minutes", ""),
        ("webhook_url", ""),
    ])),
    s("delete_alert", Change)
        .args(Form(&[("id", "{alert}")]))
        .prepare(Prepare::ScratchAlert),
    s("save_team_retention", OwnerChange).args(Form(&[("days", "45")])),
    s("save_price_plan", AdminChange).args(Form(&[
        ("currency", "USD"),
        ("per_million_requests", "0.20"),
        ("per_gb_second", "0.0000166667"),
        ("per_gb_egress", "0.09"),
        ("server_monthly", "40"),
    ])),
    s("save_server_retention", AdminChange).args(Form(&[("days", "30")])),
    s("activate_version", Change).args(Form(&[("name", "{fn}"), ("version", "1")])),
    s("save_config", Change).args(Json(CONFIG)),
    s("invocation_capture", Change).args(Json(r#"{"id": "{invocation}"}"#)),
    s("replay_invocation", Change).args(Json(
        r#"{"id": "{invocation}", "version": null, "outbound": "recorded"}"#,
    )),
    s("replay_failures", Change).args(Json(r#"{"name": "{fn}", "version": null, "last": 1}"#)),
    s("save_secrets", Change).args(Json(r#"{"name": "{fn}", "changes": {"MATRIX": "s3cret"}}"#)),
    s("test_invoke", Change).args(Json(
        r#"{"name": "{fn}", "method": "GET", "path": "/", "headers": "", "body": ""}"#,
    )),
    s("save_trigger", Change).args(Form(&[
        ("kind", "topic"),
        ("function", "{fn}"),
        ("topic", "matrix-rpc"),
    ])),
    s("kv_set", Change).args(Form(&[
        ("application", "default"),
        ("key", "matrix-rpc"),
        ("value", "v"),
    ])),
    s("redrive_job", Change)
        .args(Form(&[("id", "{dead}")]))
        .prepare(Prepare::DeadJob),
    s("kv_remove", Change)
        .args(Form(&[("application", "{kv_app}"), ("key", "{kv_key}")]))
        .prepare(Prepare::ScratchKey),
    s("delete_trigger", Change)
        .args(Form(&[("id", "{trigger}")]))
        .prepare(Prepare::ScratchTrigger),
    s("set_member_role", OwnerChange)
        .args(Form(&[("username", "{new_user}"), ("role", "viewer")]))
        .prepare(Prepare::ScratchUser),
    s("remove_member", OwnerChange)
        .args(Form(&[("username", "{member}")]))
        .prepare(Prepare::ScratchMember),
    s("login", Login).args(Form(&[
        ("username", "{me}"),
        ("password", "{me_password}"),
        ("next", "/"),
    ])),
    s("switch_team", SelfService).args(Form(&[("team_id", "{team_id}")])),
    s("create_token", SelfService).args(Form(&[("name", "matrix-rpc"), ("role", "viewer")])),
    s("revoke_token", SelfService)
        .args(Form(&[("id", "{token}")]))
        .prepare(Prepare::ScratchToken),
    s("end_session", SelfService)
        .args(Form(&[("id", "{session}")]))
        .prepare(Prepare::ScratchSession),
    s("logout", SignOut).prepare(Prepare::ScratchCookie),
];

/// Placeholders that name an object of a team: check (a) fills them with
/// the other team's.
pub const OBJECT_PLACEHOLDERS: &[&str] = &[
    "fn",
    "trigger",
    "alert",
    "invocation",
    "trace",
    "job",
    "dead",
    "token",
    "session",
    "kv_key",
    "member",
    "team_id",
];

/// The placeholder a REST path parameter is filled from, by its name (and
/// for `{id}`, by the route family: the segment before it).
pub fn placeholder_for(path: &str, param: &str) -> Option<&'static str> {
    Some(match param {
        "name" => "fn",
        "application" => "kv_app",
        "key" => "kv_key",
        "username" => "member",
        "topic" => "topic",
        "trace_id" => "trace",
        "version" => "version",
        "file" => "month_file",
        "id" => {
            let before = path.split("/{id}").next()?.rsplit('/').next()?;
            match before {
                "invocations" => "invocation",
                "jobs" => "job",
                "triggers" => "trigger",
                "alerts" => "alert",
                "dead-letters" => "dead",
                "tokens" => "token",
                "sessions" => "session",
                _ => return None,
            }
        }
        _ => return None,
    })
}
