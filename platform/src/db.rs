//! Database connection and migrations. One `sqlx::AnyPool` over SQLite (the
//! single-node default, WAL mode) or PostgreSQL (clusters); queries use `$N`
//! placeholders, which both drivers accept. A connection whose transaction
//! could not be ended (see [`release_healthy`]) never goes back to the pool.
//! Owns nothing else.

/// The one team filter of the SQL: `(SELECT name FROM function_owners
/// WHERE team_id = $N)`, the names of a team's functions (also deleted
/// ones: ownership is kept forever), as a literal for `concat!`. A row of
/// a team's function is `function_name IN team_functions!("$N")`.
macro_rules! team_functions {
    ($team:literal) => {
        concat!(
            "(SELECT name FROM function_owners WHERE team_id = ",
            $team,
            ")"
        )
    };
}

/// [`team_functions!`] narrowed to one application when `$app` is not
/// empty (a deleted function, which has no application any more, counts
/// for the whole team only).
macro_rules! scoped_functions {
    ($team:literal, $app:literal) => {
        concat!(
            "(SELECT o.name FROM function_owners o LEFT JOIN functions f ON f.name = o.name \
             WHERE o.team_id = ",
            $team,
            " AND (",
            $app,
            " = '' OR f.application = ",
            $app,
            "))"
        )
    };
}

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection as _};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which SQL dialect the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl FromStr for Backend {
    type Err = anyhow::Error;
    fn from_str(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://FILE or postgres://...")
        }
    }
}

/// Opens the pool and brings the schema up to date.
pub(crate) async fn connect(url: &str) -> anyhow::Result<(AnyPool, Backend)> {
    install_default_drivers();
    let backend: Backend = url.parse()?;
    let url = match backend {
        // Create the file when missing.
        Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
        _ => url.to_string(),
    };
    let options = AnyPoolOptions::new()
        // SQLite serialises writers anyway; a handful of readers is plenty.
        .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    use sqlx::Executor;
                    // WAL: readers never block the writer; NORMAL sync is
                    // durable across process crashes (not power loss) and
                    // much faster than FULL; busy_timeout waits for the
                    // write lock instead of failing; statement journals
                    // (multi-row INSERTs inside a transaction keep one) in
                    // memory rather than in temporary files.
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                         PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                         PRAGMA temp_store=MEMORY;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .after_release(|conn, _meta| Box::pin(release_healthy(conn)));
    let pool = options
        .connect(&url)
        .await
        .with_context(|| format!("connecting to {}", redact(&url)))?;
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(&pool).await.context("running migrations")?;
    Ok((pool, backend))
}

/// Whether a connection handed back to the pool may be used again: not
/// when it is still inside a transaction. A transaction dropped without a
/// commit queues its ROLLBACK (run before this answers); but when SQLite
/// ended a transaction by itself (a COMMIT or write that failed on a full
/// or read-only disk rolls back), that ROLLBACK fails too and sqlx keeps
/// counting the connection as inside it: every later `begin_with` on it
/// failed ("attempted to call begin_with at non-zero transaction depth")
/// until a restart. Such a connection is closed instead (closing also ends
/// any transaction SQLite still holds), and the pool opens a fresh one.
async fn release_healthy(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // Let a queued rollback run, then look again.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("a database connection was left inside a failed transaction; closing it");
        return Ok(false);
    }
    Ok(true)
}

/// Starts a transaction that will write after reading. On SQLite it takes
/// the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that
/// reads first fails with "database is locked" instead of waiting when
/// another writer got in between.
pub(crate) async fn begin_write(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => pool.begin().await,
    }
}

/// `($1,$2,...),($n+1,...)` for a multi-row INSERT of `rows` rows of
/// `columns` values each; on SQLite anonymous `(?,?,...)` instead. The
/// values bind in the same order either way. Why SQLite differs: sqlx looks
/// up every numbered parameter's name, and SQLite finds a name by scanning
/// the statement's list of names, so a 200-row insert with `$N` spends
/// O(parameters²) in `sqlite3_bind_parameter_name` (profiled: 29 % of the
/// server's CPU under load); anonymous parameters have no names to scan.
pub(crate) fn values_placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ",(" });
        for c in 1..=columns {
            if c > 1 {
                out.push(',');
            }
            match backend {
                Backend::Postgres => {
                    let _ = write!(out, "${}", row * columns + c);
                }
                Backend::Sqlite => out.push('?'),
            }
        }
        out.push(')');
    }
    out
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// A TEXT column holding one of model's words (a role, a job state, an
/// invocation status, ...). A word this build does not know is an internal
/// error naming the column, never a panic or a guess.
pub(crate) fn column<T>(row: &sqlx::any::AnyRow, name: &str) -> Result<T, crate::PlatformError>
where
    T: FromStr<Err = model::UnknownValue>,
{
    use sqlx::Row as _;
    let text: String = row.try_get(name)?;
    text.parse().map_err(|e: model::UnknownValue| {
        crate::PlatformError::Internal(anyhow::anyhow!("column {name}: {e}"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_rows_then_columns() {
        use super::{values_placeholders, Backend};
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 3),
            "($1,$2,$3),($4,$5,$6)"
        );
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?,?),(?,?)");
    }
}
