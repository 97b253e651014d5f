//! `bravo_refresh(campaign_id)`: a short-window sync of one campaign's media buys.
//!
//! The buys are the campaign's rows of `media_buys` (at most [`MAX_BUYS`]); the sync is
//! an ordinary one ([`super::run`]) restricted to them ([`super::Scope`]): the source
//! query filters on them with bind variables, the target window is read for them only
//! (so only their rows can vanish), and set-aside rows of other buys wait for the next
//! full sync. One lock with every other sync; logged with trigger `refresh` and the
//! campaign in `detail`.

use bravo_core::{BuyId, KeyType, Trigger};
use pgrx::prelude::*;

use super::{key, Scope, SyncRequest};
use crate::error::BravoError;
use crate::{schemas, settings};

/// The most media buys a refresh takes (each one a bind variable in Snowflake).
pub const MAX_BUYS: usize = 10_000;

pub fn run(
    campaign: Option<String>,
    lookback_days: Option<i32>,
    wait: Option<bool>,
) -> crate::SyncRows {
    let campaign = campaign.unwrap_or_else(|| {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "campaign_id must not be NULL",
        )
        .hint("SELECT * FROM bravo_refresh(105);")
        .raise()
    });
    let lookback = super::check_lookback(lookback_days).unwrap_or_else(|e| e.raise());
    let schemas = schemas::resolve().unwrap_or_else(|e| e.raise());
    let key = key::of_media_buys(&schemas).unwrap_or_else(|e| e.raise());
    let ids: Vec<String> = Spi::connect(|c| {
        c.select(
            &format!(
                "SELECT id::pg_catalog.text FROM {}.media_buys WHERE campaign_id::pg_catalog.text OPERATOR(pg_catalog.=) $1 ORDER BY id LIMIT {}",
                schemas.media,
                MAX_BUYS + 1
            ),
            None,
            &[campaign.as_str().into()],
        )?
        .map(|r| Ok(r.get::<String>(1)?.unwrap_or_default()))
        .collect::<Result<Vec<_>, pgrx::spi::Error>>()
    })
    .unwrap_or_else(|e| BravoError::internal("cannot read the campaign's media buys", e).raise());
    if ids.is_empty() {
        BravoError::config(format!("campaign {campaign} has no media buys in media_buys"))
            .hint("bravo_refresh syncs the media buys media_buys gives the campaign (media_buys.campaign_id); check the id, or load its media buys.")
            .raise();
    }
    if ids.len() > MAX_BUYS {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("campaign {campaign} has more than {MAX_BUYS} media buys"),
        )
        .hint("Sync everything instead: SELECT * FROM bravo_sync(3);")
        .raise();
    }
    let buys: Vec<BuyId> = ids
        .into_iter()
        .map(|id| match key.kind {
            KeyType::Int => BuyId::Int(id.parse().unwrap_or_default()),
            _ => BuyId::Text(id),
        })
        .collect();
    let overlap = settings::overlap_policy(wait);
    crate::run_rows(&SyncRequest {
        grain: bravo_core::grain::Grain::Day,
        lookback_days: lookback,
        trigger: Trigger::Refresh,
        overlap,
        run_id: None,
        attempt: 1,
        scope: Some(Scope { campaign, buys }),
        changes_only: false,
    })
}
