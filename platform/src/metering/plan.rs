//! Price plans: what a request, a GB-second and a GB of egress cost from a
//! given instant on. The plan in force at an hour prices that hour, so a new
//! plan never changes what earlier months cost; new plans may not start
//! before the current month. Without any stored plan the built-in default
//! (AWS Lambda's published x86 prices) applies from the epoch.

use std::str::FromStr;

use model::{PricePlan, PricePlanUpdate, PricePlans};
use rust_decimal::Decimal;
use sqlx::{AnyPool, Row};

use super::Month;
use crate::time::from_ms;
use crate::{Platform, PlatformError};

/// Currency of the default plan.
pub const DEFAULT_CURRENCY: &str = "USD";
/// AWS Lambda x86: $0.20 per million requests (published list price).
pub const DEFAULT_PER_MILLION_REQUESTS: &str = "0.20";
/// AWS Lambda x86: $0.0000166667 per GB-second (first pricing tier).
pub const DEFAULT_PER_GB_SECOND: &str = "0.0000166667";
/// AWS data transfer out to the internet: $0.09 per GB (first 10 TB tier).
pub const DEFAULT_PER_GB_EGRESS: &str = "0.09";
/// A small always-on server (e.g. 2 vCPU / 4 GB VM): $40 per month.
pub const DEFAULT_SERVER_MONTHLY: &str = "40";

/// Largest accepted price: keeps every product far inside `Decimal`'s range.
const MAX_PRICE: i64 = 1_000_000_000;

/// The unit prices of one plan, as exact decimals.
#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    pub per_million_requests: Decimal,
    pub per_gb_second: Decimal,
    pub per_gb_egress: Decimal,
    pub server_monthly: Decimal,
}

/// A stored (or the default) plan.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub id: Option<i64>,
    pub effective_from: i64,
    pub currency: String,
    pub prices: Prices,
}

fn decimal(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

impl Plan {
    pub fn default_plan() -> Self {
        Self {
            id: None,
            effective_from: 0,
            currency: DEFAULT_CURRENCY.into(),
            prices: Prices {
                per_million_requests: decimal(DEFAULT_PER_MILLION_REQUESTS),
                per_gb_second: decimal(DEFAULT_PER_GB_SECOND),
                per_gb_egress: decimal(DEFAULT_PER_GB_EGRESS),
                server_monthly: decimal(DEFAULT_SERVER_MONTHLY),
            },
        }
    }

    pub fn to_model(&self) -> PricePlan {
        PricePlan {
            id: self.id,
            effective_from: from_ms(self.effective_from),
            currency: self.currency.clone(),
            per_million_requests: self.prices.per_million_requests.to_string(),
            per_gb_second: self.prices.per_gb_second.to_string(),
            per_gb_egress: self.prices.per_gb_egress.to_string(),
            server_monthly: self.prices.server_monthly.to_string(),
        }
    }
}

/// Every plan, ordered by when it takes effect (the default first); later
/// rows win ties.
#[derive(Clone, Debug)]
pub(crate) struct PlanBook {
    plans: Vec<Plan>,
}

impl PlanBook {
    pub fn new(mut stored: Vec<Plan>) -> Self {
        stored.sort_by_key(|p| (p.effective_from, p.id));
        let mut plans = vec![Plan::default_plan()];
        plans.extend(stored);
        Self { plans }
    }

    /// Index of the plan in force at `ms`.
    pub fn index_at(&self, ms: i64) -> usize {
        // plans[0] (the default) starts at 0; anything before still uses it.
        self.plans
            .partition_point(|p| p.effective_from <= ms)
            .saturating_sub(1)
    }

    pub fn get(&self, index: usize) -> &Plan {
        &self.plans[index]
    }

    pub fn all(&self) -> &[Plan] {
        &self.plans
    }
}

pub(crate) async fn load(db: &AnyPool) -> Result<PlanBook, PlatformError> {
    let rows = sqlx::query(
        "SELECT id, effective_from, currency, per_million_requests, per_gb_second, \
         per_gb_egress, server_monthly FROM price_plans",
    )
    .fetch_all(db)
    .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for row in rows {
        let price = |column: &str| -> Result<Decimal, PlatformError> {
            let text: String = row.try_get(column)?;
            Decimal::from_str(&text).map_err(|e| {
                PlatformError::Internal(anyhow::anyhow!("stored price {column} {text:?}: {e}"))
            })
        };
        plans.push(Plan {
            id: Some(row.try_get("id")?),
            effective_from: row.try_get("effective_from")?,
            currency: row.try_get("currency")?,
            prices: Prices {
                per_million_requests: price("per_million_requests")?,
                per_gb_second: price("per_gb_second")?,
                per_gb_egress: price("per_gb_egress")?,
                server_monthly: price("server_monthly")?,
            },
        });
    }
    Ok(PlanBook::new(plans))
}

fn parse_price(field: &str, text: &str) -> Result<Decimal, PlatformError> {
    let value = Decimal::from_str(text.trim()).map_err(|_| {
        PlatformError::invalid(format!("{field} must be a decimal number, got {text:?}"))
    })?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(PlatformError::invalid(format!(
            "{field} must not be negative"
        )));
    }
    if value > Decimal::from(MAX_PRICE) {
        return Err(PlatformError::invalid(format!(
            "{field} must be at most {MAX_PRICE}"
        )));
    }
    Ok(value)
}

/// Checks a plan change made at `now_ms`.
pub(crate) fn validate(update: &PricePlanUpdate, now_ms: i64) -> Result<Plan, PlatformError> {
    let currency = update.currency.trim();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(PlatformError::invalid(format!(
            "currency must be a 3-letter ISO 4217 code such as USD, got {:?}",
            update.currency
        )));
    }
    let effective_from = update
        .effective_from
        .map(|t| t.timestamp_millis())
        .unwrap_or(now_ms);
    let this_month = Month::containing(now_ms);
    if effective_from < this_month.start_ms() {
        return Err(PlatformError::invalid(format!(
            "effective_from must not be before {this_month}-01: a plan change never rewrites past months"
        )));
    }
    Ok(Plan {
        id: None,
        effective_from,
        currency: currency.to_string(),
        prices: Prices {
            per_million_requests: parse_price(
                "per_million_requests",
                &update.per_million_requests,
            )?,
            per_gb_second: parse_price("per_gb_second", &update.per_gb_second)?,
            per_gb_egress: parse_price("per_gb_egress", &update.per_gb_egress)?,
            server_monthly: parse_price("server_monthly", &update.server_monthly)?,
        },
    })
}

impl Platform {
    /// The unit prices and currency in force at `ms`.
    pub(crate) async fn prices_at(&self, ms: i64) -> Result<(Prices, String), PlatformError> {
        let book = load(&self.inner.db).await?;
        let plan = book.get(book.index_at(ms));
        Ok((plan.prices.clone(), plan.currency.clone()))
    }

    /// The plan in force now and every plan, oldest first.
    pub(crate) async fn price_plans(&self) -> Result<PricePlans, PlatformError> {
        let book = load(&self.inner.db).await?;
        Ok(PricePlans {
            current: book
                .get(book.index_at(self.inner.clock.now_ms()))
                .to_model(),
            history: book.all().iter().map(Plan::to_model).collect(),
        })
    }

    /// Adds a plan taking effect at `update.effective_from` (default now).
    pub(crate) async fn set_price_plan(
        &self,
        update: PricePlanUpdate,
    ) -> Result<PricePlan, PlatformError> {
        let now = self.inner.clock.now_ms();
        let mut plan = validate(&update, now)?;
        let row = sqlx::query(
            "INSERT INTO price_plans (effective_from, currency, per_million_requests, \
             per_gb_second, per_gb_egress, server_monthly, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(plan.effective_from)
        .bind(plan.currency.clone())
        .bind(plan.prices.per_million_requests.to_string())
        .bind(plan.prices.per_gb_second.to_string())
        .bind(plan.prices.per_gb_egress.to_string())
        .bind(plan.prices.server_monthly.to_string())
        .bind(now)
        .fetch_one(&self.inner.db)
        .await?;
        plan.id = Some(row.try_get("id")?);
        Ok(plan.to_model())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(currency: &str, price: &str) -> PricePlanUpdate {
        PricePlanUpdate {
            effective_from: None,
            currency: currency.into(),
            per_million_requests: price.into(),
            per_gb_second: "0.00001".into(),
            per_gb_egress: "0".into(),
            server_monthly: "40".into(),
        }
    }

    #[test]
    fn plan_in_force_is_the_latest_started() {
        let mut a = Plan::default_plan();
        a.id = Some(1);
        a.effective_from = 1_000;
        let mut b = a.clone();
        b.id = Some(2);
        b.effective_from = 5_000;
        let mut c = a.clone();
        c.id = Some(3);
        c.effective_from = 5_000;
        let book = PlanBook::new(vec![c, b, a]);
        assert_eq!(book.get(book.index_at(-5)).id, None);
        assert_eq!(book.get(book.index_at(999)).id, None);
        assert_eq!(book.get(book.index_at(1_000)).id, Some(1));
        assert_eq!(book.get(book.index_at(4_999)).id, Some(1));
        // Two plans from the same instant: the later one wins.
        assert_eq!(book.get(book.index_at(5_000)).id, Some(3));
    }

    #[test]
    fn plan_changes_are_validated() {
        let now = Month::containing(0).next().next().start_ms() + 10;
        assert!(validate(&update("EUR", "0.25"), now).is_ok());
        assert!(validate(&update("eur", "0.25"), now).is_err());
        assert!(validate(&update("EURO", "0.25"), now).is_err());
        assert!(validate(&update("USD", "-0.01"), now).is_err());
        assert!(validate(&update("USD", "cheap"), now).is_err());
        let mut past = update("USD", "0.2");
        past.effective_from = Some(from_ms(now - 40 * 24 * 3_600_000));
        let err = validate(&past, now).unwrap_err();
        assert!(err.to_string().contains("past months"), "{err}");
    }
}
