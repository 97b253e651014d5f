//! Campaign reporting: `bravo_campaign_totals`, `bravo_campaigns_totals`,
//! `bravo_campaign_daily`, `bravo_media_buy_totals`.
//!
//! Everything is SQL, so the planner can inline the functions into the caller's query:
//! * `rollup.sql` — the `(campaign_id, date)` and `(media_buy_id, month)` rollups and the
//!   triggers that keep them exact;
//! * `report.sql` — the reporting functions (STABLE, PARALLEL SAFE, LANGUAGE sql);
//! * `grants.sql` — `bravo_grant_reporting(role)` / `bravo_revoke_reporting(role)`.

pgrx::extension_sql_file!("hourly.sql", name = "report_hourly", requires = ["schema"]);
pgrx::extension_sql_file!(
    "rollup.sql",
    name = "report_rollup",
    requires = ["schema", "report_hourly", "citus_node"]
);
pgrx::extension_sql_file!(
    "report.sql",
    name = "report",
    requires = ["report_rollup", "citus_layout"]
);
pgrx::extension_sql_file!("grants.sql", name = "report_grants", requires = ["report"]);
