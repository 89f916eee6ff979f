//! Listing a team's functions: the whole list by name, or one page of it
//! (names after a cursor, a search within names, a size), each with its
//! last 24 hours of activity. A page reads only its own functions' calls,
//! so a team with 100,000 functions lists a page as fast as a team of ten.

use model::{FunctionListPage, FunctionListQuery, FunctionSummary};
use sqlx::Row;

use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// The columns of a listed function (`$1` the team, `$2` the name to start
/// after, `$3` the LIKE pattern of names).
const LIST_SQL: &str = "SELECT f.name AS name, f.application AS application, f.created_at AS created_at, \
     f.updated_at AS updated_at, f.live_version AS live_version, \
     (SELECT v.kind FROM function_versions v WHERE v.function_name = f.name AND v.version = f.live_version) AS kind, \
     (SELECT COUNT(*) FROM function_versions v WHERE v.function_name = f.name) AS version_count, \
     (SELECT MAX(i.started_at) FROM invocations i WHERE i.function_name = f.name) AS last_invoked_at \
     FROM functions f JOIN function_owners o ON o.name = f.name \
     WHERE o.team_id = $1 AND f.name > $2 AND f.name LIKE $3 \
     ORDER BY f.name";

/// The LIKE pattern of names containing `search` (None: it cannot match,
/// since names hold only lowercase letters, digits and '-', none of them
/// special to LIKE).
fn name_pattern(search: Option<&str>) -> Option<String> {
    let text = search.unwrap_or_default().trim().to_ascii_lowercase();
    text.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        .then(|| format!("%{text}%"))
}

impl Platform {
    /// All functions of a team, by name.
    pub(crate) async fn list_functions(
        &self,
        team_id: i64,
    ) -> Result<Vec<FunctionSummary>, PlatformError> {
        Ok(self
            .function_page(team_id, &FunctionListQuery::default())
            .await?
            .functions)
    }

    /// The team's functions `query` asks for, by name.
    pub(crate) async fn function_page(
        &self,
        team_id: i64,
        query: &FunctionListQuery,
    ) -> Result<FunctionListPage, PlatformError> {
        if let Some(problem) = query.problem() {
            return Err(PlatformError::invalid_field("limit", problem));
        }
        let Some(pattern) = name_pattern(query.search.as_deref()) else {
            return Ok(FunctionListPage::default());
        };
        let after = query.after.clone().unwrap_or_default();
        // One more than asked tells whether a next page exists.
        let sql = match query.limit {
            Some(limit) => format!("{LIST_SQL} LIMIT {}", u64::from(limit) + 1),
            None => LIST_SQL.to_string(),
        };
        let mut rows = sqlx::query(&sql)
            .bind(team_id)
            .bind(&after)
            .bind(&pattern)
            .fetch_all(&self.inner.db)
            .await?;
        let more = query.limit.is_some_and(|limit| rows.len() > limit as usize);
        if more {
            rows.pop();
        }
        let total = match query.is_paged() {
            true => sqlx::query(
                "SELECT COUNT(*) AS n FROM function_owners WHERE team_id = $1 AND name LIKE $2",
            )
            .bind(team_id)
            .bind(&pattern)
            .fetch_one(&self.inner.db)
            .await?
            .try_get("n")?,
            false => rows.len() as i64,
        };
        let now = self.inner.clock.now_ms();
        let activity = match query.is_paged() {
            true => {
                let names = rows
                    .iter()
                    .map(|row| row.try_get("name"))
                    .collect::<Result<Vec<String>, _>>()?;
                self.activity_of(&names, now).await?
            }
            false => self.activity_last_day(team_id, now).await?,
        };
        let functions = rows
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let recent = activity.get(&name).cloned().unwrap_or_default();
                Ok(FunctionSummary {
                    name,
                    application: row.try_get("application")?,
                    live_version: row.try_get("live_version")?,
                    kind: row.try_get("kind")?,
                    version_count: row.try_get("version_count")?,
                    created_at: from_ms(row.try_get("created_at")?),
                    updated_at: from_ms(row.try_get("updated_at")?),
                    last_invoked_at: row
                        .try_get::<Option<i64>, _>("last_invoked_at")?
                        .map(from_ms),
                    calls_24h: recent.calls,
                    errors_24h: recent.errors,
                    p50_duration_ms: recent.p50_duration_ms,
                    last_failure_trace_id: recent.last_failure.as_ref().map(|f| f.1.clone()),
                    last_failure_id: recent.last_failure.map(|f| f.0),
                })
            })
            .collect::<Result<Vec<_>, PlatformError>>()?;
        let next_after = more
            .then(|| functions.last().map(|f| f.name.clone()))
            .flatten();
        Ok(FunctionListPage {
            functions,
            next_after,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_matches_names_only_with_their_characters() {
        assert_eq!(name_pattern(None).as_deref(), Some("%%"));
        assert_eq!(name_pattern(Some(" Pay-3 ")).as_deref(), Some("%pay-3%"));
        assert_eq!(name_pattern(Some("50%")), None);
        assert_eq!(name_pattern(Some("a_b")), None);
    }
}
