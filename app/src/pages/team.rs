//! `/team`: the team the session acts for and the user's role in it, a
//! switcher between the user's teams, the members with their roles (owners
//! add people and change or remove roles), the user's open sessions (each
//! can be ended), and, for owners, the audit log of recent changes.

use leptos::prelude::*;
use leptos_meta::Title;
use model::{AuditEntry, Member, Role, SessionInfo, TeamInfo};

use crate::{
    components::feedback::{ErrorList, ErrorPanel, Loading},
    format,
    team_api::{load_team, EndSession, RemoveMember, SetMemberRole, SwitchTeam, TeamView},
};

#[component]
pub fn TeamPage() -> impl IntoView {
    let set_role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let end = ServerAction::<EndSession>::new();
    let switch = ServerAction::<SwitchTeam>::new();
    let team = Resource::new(
        move || {
            (
                set_role.version().get(),
                remove.version().get(),
                end.version().get(),
                switch.version().get(),
            )
        },
        |_| load_team(),
    );
    view! {
        <Title text="Team · Wisp" />
        <Transition fallback=|| view! { <Loading /> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    match team.await {
                        Ok(data) => view! { <Team data set_role remove end switch /> }.into_any(),
                        Err(error) => view! { <ErrorPanel error /> }.into_any(),
                    }
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn Team(
    data: TeamView,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
    end: ServerAction<EndSession>,
    switch: ServerAction<SwitchTeam>,
) -> impl IntoView {
    let owner = data.role == Role::Owner;
    let failure = move || {
        let errors = [
            set_role.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(Result::err),
            end.value().get().and_then(Result::err),
            switch.value().get().and_then(Result::err),
        ];
        errors.into_iter().flatten().next().map(|error| {
            view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }
        })
    };
    view! {
        <div class="page-head">
            <div>
                <h1>{format!("Team {}", data.team)}</h1>
                <p class="lede">
                    "You are " <strong>{data.role.as_str()}</strong> " in this team. "
                    "Functions, triggers, invocations, costs and key-value data belong to a team; "
                    "other teams never see them."
                </p>
            </div>
            <TeamSwitcher teams=data.teams.clone() switch />
        </div>
        {failure}
        <div class="split">
            <section class="card card-flush" aria-labelledby="members-title">
                <div class="card-head">
                    <h2 id="members-title">"Members"</h2>
                </div>
                <MemberTable members=data.members.clone() me=data.username.clone() owner set_role remove />
            </section>
            <aside class="card" aria-labelledby="roles-title">
                <h2 id="roles-title">"Roles"</h2>
                <dl class="role-list">
                    <dt>"Viewer"</dt>
                    <dd>"Reads everything of the team."</dd>
                    <dt>"Developer"</dt>
                    <dd>"Also deploys, configures, invokes, manages triggers, topics and key-value data."</dd>
                    <dt>"Owner"</dt>
                    <dd>"Also manages members and reads the audit log."</dd>
                </dl>
                {owner.then(|| view! {
                    <h3>"Add a member"</h3>
                    <ActionForm action=set_role attr:class="member-form">
                        <div class="field">
                            <label for="member-name">"User name"</label>
                            <input id="member-name" name="username" type="text" required=true autocomplete="off" />
                        </div>
                        <div class="field">
                            <label for="member-role">"Role"</label>
                            <select id="member-role" name="role">
                                {Role::ALL
                                    .iter()
                                    .map(|r| view! { <option value={r.as_str()} selected={*r == Role::Developer}>{r.as_str()}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <button type="submit" class="btn btn-primary">"Add or change"</button>
                    </ActionForm>
                })}
            </aside>
        </div>
        <section class="card card-flush team-section" aria-labelledby="sessions-title">
            <div class="card-head">
                <h2 id="sessions-title">"Your sessions"</h2>
            </div>
            <SessionTable sessions=data.sessions.clone() end />
        </section>
        {data.audit.clone().map(|entries| view! { <AuditTable entries /> })}
    }
}

#[component]
fn TeamSwitcher(teams: Vec<TeamInfo>, switch: ServerAction<SwitchTeam>) -> impl IntoView {
    (teams.len() > 1).then(|| {
        let options = teams
            .into_iter()
            .map(|t| {
                let label = format!("{} ({})", t.name, t.role);
                view! { <option value=t.id.to_string() selected=t.current>{label}</option> }
            })
            .collect_view();
        view! {
            <ActionForm action=switch attr:class="team-switch">
                <label for="team-switch">"Act for team"</label>
                <select id="team-switch" name="team_id">{options}</select>
                <button type="submit" class="btn btn-small">"Switch"</button>
            </ActionForm>
        }
    })
}

#[component]
fn MemberTable(
    members: Vec<Member>,
    me: String,
    owner: bool,
    set_role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let rows = members
        .into_iter()
        .map(|m| {
            let name = m.username.clone();
            let is_me = name == me;
            let controls = (owner && !is_me).then(|| {
                let (for_select, for_remove) = (name.clone(), name.clone());
                view! {
                    <label class="visually-hidden" for=format!("role-{name}")>{format!("Role of {name}")}</label>
                    <select
                        id=format!("role-{name}")
                        on:change=move |ev| {
                            set_role.dispatch(SetMemberRole {
                                username: for_select.clone(),
                                role: event_target_value(&ev),
                            });
                        }
                    >
                        {Role::ALL
                            .iter()
                            .map(|r| view! { <option value={r.as_str()} selected={*r == m.role}>{r.as_str()}</option> })
                            .collect_view()}
                    </select>
                    <button
                        type="button"
                        class="btn btn-small"
                        aria-label=format!("Remove {name} from the team")
                        on:click=move |_| {
                            remove.dispatch(RemoveMember { username: for_remove.clone() });
                        }
                    >
                        "Remove"
                    </button>
                }
            });
            view! {
                <tr data-member=m.username.clone()>
                    <th scope="row">{m.username.clone()} {is_me.then(|| view! { <span class="muted">" (you)"</span> })}</th>
                    <td>{m.role.as_str()}</td>
                    <td class="nowrap">{format::datetime(&m.added_at)}</td>
                    <td class="actions">{controls}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Member since (UTC)"</th>
                        <th scope="col" class="actions"><span class="visually-hidden">"Change"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn SessionTable(sessions: Vec<SessionInfo>, end: ServerAction<EndSession>) -> impl IntoView {
    let rows = sessions
        .into_iter()
        .map(|s| {
            let id = s.id.clone();
            view! {
                <tr>
                    <td class="mono">{s.id.clone()}</td>
                    <td>{s.team.clone()}</td>
                    <td class="nowrap">{format::datetime(&s.created_at)}</td>
                    <td class="nowrap">{format::datetime(&s.expires_at)}</td>
                    <td class="actions">
                        <button
                            type="button"
                            class="btn btn-small"
                            on:click=move |_| {
                                end.dispatch(EndSession { id: id.clone() });
                            }
                        >
                            "End"
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Session"</th>
                        <th scope="col">"Team"</th>
                        <th scope="col">"Started (UTC)"</th>
                        <th scope="col">"Expires (UTC)"</th>
                        <th scope="col" class="actions"><span class="visually-hidden">"End"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    let body = if entries.is_empty() {
        view! {
            <div class="empty empty-compact">
                <p>"No changes yet. Deploys, configuration changes and other writes will be listed here."</p>
            </div>
        }
        .into_any()
    } else {
        let rows = entries
            .into_iter()
            .map(|e| {
                let failed = e.status >= 400;
                view! {
                    <tr class:row-error=failed>
                        <td class="nowrap">{format::datetime(&e.at)}</td>
                        <td>{e.username.clone()}</td>
                        <td class="mono">{e.via.clone()}</td>
                        <td class="mono nowrap">{e.action.clone()}</td>
                        <td class="mono cell-wrap">{e.target.clone()}</td>
                        <td class="num">{e.status}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table audit-table">
                    <thead>
                        <tr>
                            <th scope="col">"When (UTC)"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"Via"</th>
                            <th scope="col">"Action"</th>
                            <th scope="col">"Target"</th>
                            <th scope="col" class="num">"Status"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card card-flush team-section" aria-labelledby="audit-title">
            <div class="card-head">
                <h2 id="audit-title">"Audit log"</h2>
            </div>
            {body}
        </section>
    }
}
