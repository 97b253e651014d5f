-- Comments on every object of the extension (since 0.4.0), so that \dx+, \df+, \dv+,
-- \dt+ and \ds+ say what each is for. Runs after every object exists and before the
-- final REVOKE block (src/lib.rs, "revoke_public"). The objects users call and read
-- are in the extension's schema (unqualified here, as in the rest of the install
-- script); everything internal is in schema bravo.
--
-- sql/bravo_metrics--0.3.0--0.4.0.sql ends with the same statements (there the
-- user-facing objects are written @extschema@.name): keep both in step.
-- (bravo_doctor, bravo_freshness, bravo_grant_monitoring, bravo_revoke_monitoring,
-- bravo_schedule_status and bravo_intraday_status are commented where they are
-- created.)

COMMENT ON SCHEMA bravo IS
  'Internal objects of the extension bravo_metrics: helper functions, the run log, set-aside rows, the metric family catalog and the reporting rollups. Not for direct use; the functions and views users call are in the extension''s schema.';

-- The run log and the set-aside rows (schema.sql).
COMMENT ON FUNCTION bravo._bravo_media_schema() IS
  'Internal: the schema of the media tool''s tables (media_buys and the metric tables), quoted: bravo_metrics.media_tool_schema, else the extension''s schema.';
COMMENT ON FUNCTION bravo._bravo_media_table(text) IS
  'Internal: the media tool''s plain or partitioned table of that name in its schema, NULL when there is none (views and foreign tables do not count).';
COMMENT ON FUNCTION bravo._bravo_media_buy_id_type() IS
  'Internal: the type of media_buys.id as SQL (with its collation when not the type''s default); every metric table''s media_buy_id is created with it.';
COMMENT ON TABLE bravo.bravo_sync_runs IS
  'Internal: one row per sync, manual or scheduled (trigger, window, status, error); read it through the view bravo_sync_runs.';
COMMENT ON SEQUENCE bravo.bravo_sync_runs_run_id_seq IS
  'Internal: run ids of bravo.bravo_sync_runs.';
COMMENT ON TABLE bravo.bravo_sync_run_targets IS
  'Internal: per run, one row per metric family with its counts (fetched, inserted, updated, unchanged, deleted, set aside) and status; read it through the view bravo_sync_run_targets.';
COMMENT ON TABLE bravo.bravo_set_aside IS
  'Internal: source rows a sync did not merge, with the reason and the raw row; rows for an unknown media buy are merged by a later sync and marked resolved. Read it through the view bravo_set_aside.';
COMMENT ON SEQUENCE bravo.bravo_set_aside_id_seq IS
  'Internal: ids of bravo.bravo_set_aside.';
COMMENT ON VIEW bravo_sync_runs IS
  'The run log: one row per sync, manual or scheduled (trigger, started and finished times, lookback and window, status, SQLSTATE and message of a failure, Snowflake query ids, attempt, grain day or hour). Reading it needs the privilege on bravo.bravo_sync_runs too.';
COMMENT ON VIEW bravo_sync_run_targets IS
  'Per run and metric family (target): the source relation, the Snowflake query id, rows fetched, inserted, updated, unchanged, deleted and set aside, milliseconds, and status (synced, or missing_source with Snowflake''s message).';
COMMENT ON VIEW bravo_set_aside IS
  'Source rows a sync did not merge: the reason (null_key, negative_count, null_value, out_of_range, duplicate_key, unknown_media_buy, nonexistent_hour, ambiguous_hour), the raw source row and the run; unknown-media-buy rows are retried by later syncs and marked resolved once merged.';

-- The exports (src/export).
COMMENT ON TABLE bravo.bravo_export_runs IS
  'Internal: one row per export (bravo_export, or the scheduler after a sync); read it through the view bravo_export_runs. Download URLs are never stored.';
COMMENT ON SEQUENCE bravo.bravo_export_runs_export_id_seq IS
  'Internal: export ids of bravo.bravo_export_runs.';
COMMENT ON VIEW bravo_export_runs IS
  'One row per export: status, trigger (manual or schedule), who ran it, destination and object key, snapshot time, files (rows, bytes, sha256), archive size and sha256, and the error of a failed one. No download URL: bravo_export_url makes a new one.';
COMMENT ON FUNCTION bravo_export(text, interval) IS
  'Exports every enabled family''s metric table, media_buys and the run log in one consistent snapshot, as a tar.gz of CSV and MongoDB JSON files, to destination (s3://bucket/prefix/ or file:///directory; NULL: bravo_metrics.export_destination). Returns the archive''s key, files, size and sha256 and a download URL valid for url_expires (default 7 days, at most 7 days on S3).';
COMMENT ON FUNCTION bravo_export_url(bigint, interval) IS
  'A new download URL for the archive of export export_id (see bravo_export_runs), valid for expires (default 7 days, at most 7 days on S3), e.g. after the one bravo_export returned has expired.';

-- The metric family catalog (families.sql).
COMMENT ON TABLE bravo.bravo_families IS
  'Internal: the metric family catalog, one row per metric table of the media tool and its Snowflake source; edit it through the view bravo_families.';
COMMENT ON TABLE bravo.bravo_high_water IS
  'Internal: per daily family, the largest change time read from its source by the last window sync or intraday refresh (every row changed until then is merged), with the source relation and column it was taken from.';
COMMENT ON TABLE bravo.bravo_family_metrics IS
  'Internal: the metric columns of each family, their kind and order; edit them through the view bravo_family_metrics.';
COMMENT ON VIEW bravo_families IS
  'The metric families, one per metric table: table_name, Snowflake source_relation (NULL: the family''s setting, else the table''s name in upper case), grain (day or hour), enabled, required (a missing source fails the sync instead of being skipped), sync order, change column for the intraday refresh. Updatable by superusers; bravo_enable_family and bravo_disable_family change enabled.';
COMMENT ON VIEW bravo_family_metrics IS
  'The metric columns of each family: column name, kind (count: a non-negative bigint; money: an exact numeric), order and description. Updatable by superusers; bravo_enable_family adds missing columns to the table.';
COMMENT ON FUNCTION bravo_restore_families() IS
  'Inserts the shipped metric families and metric columns that are missing, changing no existing row (e.g. after restoring a dump taken before 0.4.0, or to bring back a deleted shipped family). Returns the number of rows inserted.';
COMMENT ON FUNCTION bravo_enable_family(text, boolean) IS
  'Enables metric family family: creates its metric table in the media tool''s schema if missing (not an extension member), adds the metric columns it lacks, attaches the reporting triggers to a shipped family''s table, and sets enabled (and required, unless NULL). Idempotent; returns the table.';
COMMENT ON FUNCTION bravo_disable_family(text, boolean) IS
  'Disables metric family family: later syncs leave its table and rows alone. With drop_table => true its table and rows are dropped and the rollups rebuilt (refused for the impressions and videos tables). Returns whether it was enabled.';
COMMENT ON FUNCTION bravo_reconcile_hourly(date, date, text) IS
  'Compares the hourly families with their daily ones per media buy and local day from from_date to to_date in time_zone (default UTC): one row per day with missing hours and per metric whose hours do not add up to the daily value (hourly_sum, daily_value, difference). Runs with the caller''s rights.';

-- The hourly rollup (report/hourly.sql).
COMMENT ON TABLE bravo.bravo_campaign_hourly_rollup IS
  'Internal: per campaign and hour (an instant), the sums of the hourly metric tables'' rows of the campaign''s media buys, kept exact by triggers; behind bravo_campaign_hourly and bravo_campaign_hour_of_day. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON FUNCTION bravo._bravo_hourly_layout() IS
  'Internal: which hourly metric table feeds which columns of the hourly rollup, and its row counter.';
COMMENT ON FUNCTION bravo._bravo_hourly_tables() IS
  'Internal: the hourly metric tables of the layout that exist, as regclass.';
COMMENT ON FUNCTION bravo._bravo_hourly_columns(text) IS
  'Internal: hourly table tab''s own columns of the hourly rollup (its measures, then its row counter), each with its SQL type.';
COMMENT ON FUNCTION bravo._bravo_hourly_values(text, integer) IS
  'Internal: SQL for hourly table tab''s own rollup values of a row p, times sign.';
COMMENT ON FUNCTION bravo._bravo_hourly_rows(text, text, integer) IS
  'Internal: SQL selecting (media_buy_id, hour_start, own rollup columns) of hourly table tab from source (a transition table or the table), times sign.';
COMMENT ON FUNCTION bravo._bravo_hourly_sql(text, text) IS
  'Internal: the statement that adds the rows of src (campaign_id, hour_start, tab''s own columns) to the hourly rollup and returns the keys it left empty.';
COMMENT ON FUNCTION bravo._bravo_hourly_by_buy_sql(text, text, regclass) IS
  'Internal: as _bravo_hourly_sql, for rows keyed by media buy, each buy''s campaign read from buys.';
COMMENT ON FUNCTION bravo._bravo_hourly_prune(text[], timestamptz[]) IS
  'Internal: deletes the hourly rollup rows of those keys that no metric rows are behind any more.';
COMMENT ON FUNCTION bravo._bravo_hourly_apply(text, text) IS
  'Internal: applies the rows of src (media_buy_id, hour_start, own columns of hourly table tab) to the hourly rollup, as the trigger does per statement and a sync''s flush once.';
COMMENT ON FUNCTION bravo._bravo_hourly_metric_trigger() IS
  'Internal: statement trigger function of the hourly metric tables: keeps bravo.bravo_campaign_hourly_rollup exact (deferred to the end of a sync while one runs).';
COMMENT ON FUNCTION bravo._bravo_hourly_move_sql(text, text) IS
  'Internal: the statements that move the hours of media buys whose campaign changed between campaigns in the hourly rollup (run by _bravo_rollup_buy_trigger).';
COMMENT ON FUNCTION bravo._bravo_hourly_rebuild() IS
  'Internal: rebuilds the hourly rollup from the hourly metric tables, blocking their writers meanwhile; returns its number of rows.';

-- The daily rollups (report/rollup.sql).
COMMENT ON TABLE bravo.bravo_campaign_rollup IS
  'Internal: per campaign and date, the sums of every metric row of the campaign''s media buys, with row counts per metric table, kept exact by triggers; behind bravo_campaign_totals, bravo_campaigns_totals and bravo_campaign_daily. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON TABLE bravo.bravo_media_buy_rollup IS
  'Internal: per media buy and calendar month, the sums of its metric rows, with row counts per metric table, kept exact by triggers; behind bravo_media_buy_totals. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON FUNCTION bravo._bravo_month(date) IS
  'Internal: the first day of the month of day.';
COMMENT ON FUNCTION bravo._bravo_rollup_layout() IS
  'Internal: which metric table feeds which columns of the daily rollups, and the column counting its rows.';
COMMENT ON FUNCTION bravo._bravo_rollup_columns() IS
  'Internal: every value column of the daily rollups, in order (all measures, then all row counters), each with its SQL type.';
COMMENT ON FUNCTION bravo._bravo_rollup_list(text, text) IS
  'Internal: the daily rollups'' value columns formatted with fmt and joined with sep.';
COMMENT ON FUNCTION bravo._bravo_rollup_values(text, text, integer) IS
  'Internal: SQL for the rollup values of one row of metric table tab (columns qualified by prefix), times sign: its measures and row counter, 0 for the other families''.';
COMMENT ON FUNCTION bravo._bravo_rollup_tables() IS
  'Internal: the metric tables of the daily rollup layout that exist, as regclass.';
COMMENT ON FUNCTION bravo._bravo_rollup_sql(text, text, text[]) IS
  'Internal: the statement that applies the rows of delta_sql as increments of columns cols to rollup (bravo_campaign_rollup or bravo_media_buy_rollup), in key order, and returns the keys left empty.';
COMMENT ON FUNCTION bravo._bravo_rollup_key_type(text) IS
  'Internal: the type of rollup''s key column (campaign_id or media_buy_id), as SQL.';
COMMENT ON FUNCTION bravo._bravo_rollup_prune(text, text[], date[]) IS
  'Internal: deletes the rows of rollup at those keys (ids as text) that no metric rows are behind any more.';
COMMENT ON FUNCTION bravo._bravo_rollup_rows(text, text, integer) IS
  'Internal: SQL selecting (media_buy_id, date, own rollup columns) of metric table tab from a transition table or the table itself, times sign (+1 new rows, -1 old rows).';
COMMENT ON FUNCTION bravo._bravo_rollup_own_columns(text) IS
  'Internal: the daily rollup columns metric table tab feeds, in rollup order.';
COMMENT ON FUNCTION bravo._bravo_rollup_buys_referenced() IS
  'Internal: true when every metric table has an immediate foreign key to media_buys (then no metric row can be written for a media buy another transaction is still inserting or deleting).';
COMMENT ON FUNCTION bravo._bravo_rollup_apply_sql(text, text, regclass) IS
  'Internal: the two statements that apply the rows of src (of metric table tab) to the campaign rollup (campaigns read from buys) and to the media buy rollup.';
COMMENT ON FUNCTION bravo._bravo_rollup_buys() IS
  'Internal: media_buys as a table (never a view), for the rollup triggers, which read each buy''s campaign with the extension owner''s rights.';
COMMENT ON FUNCTION bravo._bravo_rollup_temp(text) IS
  'Internal: this session''s temporary table name of a sync''s rollup bookkeeping, or NULL; refused when another role made it.';
COMMENT ON FUNCTION bravo._bravo_rollup_pending(regclass) IS
  'Internal: this session''s table of rollup deltas deferred for metric table rel during a sync, or NULL.';
COMMENT ON FUNCTION bravo._bravo_rollup_counted(regclass) IS
  'Internal: the first day from which this session''s sync (a first load) counts its own new rows of metric table rel at the flush, or NULL.';
COMMENT ON FUNCTION bravo._bravo_rollup_defer(regclass, date) IS
  'Internal: starts deferring the rollup maintenance of metric table rel for this transaction (a sync); with since, a first load into an empty window counts its own rows at the flush; false when the rollups do not read that table.';
COMMENT ON FUNCTION bravo._bravo_rollup_flush(regclass, xid) IS
  'Internal: applies the rollup deltas deferred for metric table rel once (and a first load''s rows written with transaction id writer) and ends the deferral.';
COMMENT ON FUNCTION bravo._bravo_rollup_metric_trigger() IS
  'Internal: statement trigger function of the daily metric tables: keeps bravo.bravo_campaign_rollup and bravo.bravo_media_buy_rollup exact (deferred to the end of a sync while one runs; TRUNCATE rebuilds).';
COMMENT ON FUNCTION bravo._bravo_rollup_buy_trigger() IS
  'Internal: statement trigger function of media_buys: moves the metric rows of every media buy whose campaign changed between campaigns in the rollups.';
COMMENT ON FUNCTION bravo._bravo_rollup_rebuild(text) IS
  'Internal: rebuilds rollup (bravo_campaign_rollup or bravo_media_buy_rollup) from the metric tables, blocking their writers meanwhile; returns its number of rows.';
COMMENT ON FUNCTION bravo_report_rebuild() IS
  'Rebuilds the reporting rollups (campaign by day, media buy by month, campaign by hour) from the metric tables, e.g. after a data-only restore with triggers disabled; blocks writers of the metric tables and media_buys meanwhile. Returns the number of rollup rows.';
COMMENT ON FUNCTION bravo._bravo_report_attach_triggers() IS
  'Internal: attaches the rollup triggers to media_buys and every metric table where missing (removing them from tables that are no longer the media tool''s) and records them as extension members; returns the number created.';
COMMENT ON FUNCTION bravo_report_attach() IS
  'Attaches the reports to the media tool''s tables (in bravo_metrics.media_tool_schema, else the extension''s schema): campaign index, rollup triggers, report functions and grants of reporting roles, then rebuilds the rollups. Run it after changing that setting; idempotent. Returns the number of rollup rows.';
COMMENT ON FUNCTION bravo._bravo_report_on_create_trigger() IS
  'Internal: event trigger function: once a restore has recreated every rollup trigger, runs bravo_report_attach().';
COMMENT ON EVENT TRIGGER bravo_report_restore IS
  'Internal (bravo_metrics): after a pg_restore recreates the rollup triggers, attaches the reports and rebuilds the rollups.';

-- The reports (report/report.sql).
COMMENT ON FUNCTION bravo._bravo_report_campaign(anyelement, date, date) IS
  'Internal: checks a report''s arguments (campaign_id not NULL, from_date not after to_date) and returns campaign_id.';
COMMENT ON FUNCTION bravo._bravo_report_days(date, date) IS
  'Internal: checks a daily report''s range (both bounds, finite, at most 1,000 days) and returns from_date.';
COMMENT ON FUNCTION bravo._bravo_report_zone(date, date, text) IS
  'Internal: checks an hourly report''s range (both bounds, finite, at most 366 days) and time zone, and returns the zone.';
COMMENT ON FUNCTION bravo._bravo_money(numeric) IS
  'Internal: the canonical form of a money amount (at least 2 decimals, no trailing zeros beyond them), never rounded.';
COMMENT ON FUNCTION bravo_last_sync_at() IS
  'Finish time of the last successful sync, for reports (a reporting role needs no access to the run log).';
COMMENT ON FUNCTION bravo._bravo_report_months_from(date) IS
  'Internal: the first month start on or after from_date (-infinity for NULL): where the whole months bravo_media_buy_totals reads from its rollup begin.';
COMMENT ON FUNCTION bravo._bravo_report_months_until(date) IS
  'Internal: the start of the month after the last whole month up to to_date (infinity for NULL): where the whole months bravo_media_buy_totals reads from its rollup end.';
COMMENT ON FUNCTION bravo._bravo_report_bodies(text) IS
  'Internal: (re)creates the report bodies that read the media tool''s tables in schema media, so that the reports follow bravo_metrics.media_tool_schema.';
COMMENT ON FUNCTION bravo._bravo_campaign_totals_of(anyelement, date, date) IS
  'Internal: the body of bravo_campaign_totals, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_daily_of(anyelement, date, date) IS
  'Internal: the body of bravo_campaign_daily, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_hourly_of(anyelement, date, date, text) IS
  'Internal: the body of bravo_campaign_hourly, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_hour_of_day_of(anyelement, date, date, text) IS
  'Internal: the body of bravo_campaign_hour_of_day, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_media_buy_totals_of(anyelement, date, date) IS
  'Internal: the body of bravo_media_buy_totals, for campaign ids of any type (media buy ids as text).';
COMMENT ON FUNCTION bravo._bravo_campaigns_totals_of(anyarray, date, date) IS
  'Internal: the body of bravo_campaigns_totals, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_report_define_api(text, text) IS
  'Internal: creates (or replaces) the six reporting functions for campaign ids of campaign_type and media buy ids of buy_type, not executable by PUBLIC.';
COMMENT ON FUNCTION bravo._bravo_report_key_types() IS
  'Internal: the types of media_buys.campaign_id and media_buys.id, bigint when missing.';
COMMENT ON FUNCTION bravo._bravo_report_retype() IS
  'Internal: recreates the reporting functions when media_buys'' id types differ from theirs (keeping membership and EXECUTE grants); returns whether it did.';

-- The reporting functions users call (bravo_campaign_totals, bravo_campaigns_totals,
-- bravo_campaign_daily, bravo_campaign_hourly, bravo_campaign_hour_of_day,
-- bravo_media_buy_totals) are commented by bravo._bravo_report_define_api, which
-- creates them (and recreates them, comments included, when media_buys' id types
-- change).

-- Reporting privileges (report/grants.sql).
COMMENT ON FUNCTION bravo._bravo_reporting_acl(regrole, boolean) IS
  'Internal: grants (or with do_revoke, revokes) exactly what a read-only reporting role needs.';
COMMENT ON FUNCTION bravo_grant_reporting(regrole) IS
  'Lets role run the campaign reports: USAGE on the schemas, SELECT on media_buys, the metric tables and the rollups, EXECUTE on the reporting functions and their helpers; not the run log, not syncs or exports.';
COMMENT ON FUNCTION bravo_revoke_reporting(regrole) IS
  'Undoes bravo_grant_reporting for role.';

-- Syncs, scheduler and run log (Rust).
COMMENT ON FUNCTION bravo_sync(integer, boolean) IS
  'Pulls the last lookback_days days (default 30, up to today in bravo_metrics.sync_time_zone) of every enabled daily metric family from Snowflake and merges them into the metric tables, all in one transaction; one row per family with its counts and the run_id. wait: true waits for a running sync, false fails fast, NULL follows bravo_metrics.sync_overlap.';
COMMENT ON FUNCTION bravo_sync_hourly(integer, boolean) IS
  'bravo_sync for the hourly metric families (grain hour), over the last lookback_days days (NULL, the default: bravo_metrics.hourly_lookback_days); wait as in bravo_sync. One row per family.';
COMMENT ON FUNCTION bravo_sync_intraday(integer, boolean) IS
  'The intraday refresh: per enabled daily family with a change column, merges only the rows of the last lookback_days days (default 30) changed since its high-water mark minus bravo_metrics.intraday_safety_lag; deletions and set-aside rows wait for the next bravo_sync. wait as in bravo_sync; one row per family.';
COMMENT ON FUNCTION bravo_refresh(bigint, integer, boolean) IS
  'Syncs one campaign now: the daily families for the media buys media_buys gives campaign_id, over the last lookback_days days (default 3), with bravo_sync''s guarantees and run log (trigger refresh); wait as in bravo_sync. One row per family.';
COMMENT ON FUNCTION bravo_refresh(text, integer, boolean) IS
  'bravo_refresh for campaign ids that are not integers (text, uuid, ...), passed as text: syncs the daily families for campaign_id''s media buys over the last lookback_days days (default 3); wait as in bravo_sync.';
COMMENT ON FUNCTION bravo_run_now() IS
  'Starts a sync of the last bravo_metrics.scheduler_lookback_days days in a background worker now and returns its run id (trigger run-now); follow it in bravo_sync_progress and bravo_sync_runs.';
COMMENT ON FUNCTION bravo.bravo_scheduler_state() IS
  'Internal: the scheduler''s own view (loaded, enabled, database, schedule in force, time zone, next run, hint), shown by bravo_schedule_status().';
COMMENT ON FUNCTION bravo._bravo_hourly_next_run() IS
  'Internal: the next run of bravo_metrics.hourly_schedule as Unix microseconds; NULL when there is none or the scheduler is not loaded or disabled.';
COMMENT ON FUNCTION bravo._bravo_intraday_next_run() IS
  'Internal: the next run of bravo_metrics.intraday_schedule as Unix microseconds; NULL when there is none or the scheduler is not loaded or disabled.';
COMMENT ON FUNCTION bravo._bravo_sweep_interrupted() IS
  'Internal: marks run log rows left running by a backend that is gone as interrupted; returns how many.';
COMMENT ON FUNCTION bravo._bravo_latest_date(text) IS
  'Internal: the latest date of the media tool''s metric table tab, NULL when it has no rows or does not exist.';
COMMENT ON FUNCTION bravo._bravo_latest_hour(text) IS
  'Internal: the latest hour of the media tool''s hourly metric table tab, NULL when it has no rows or does not exist.';

-- Troubleshooting (doctor/doctor.sql).
COMMENT ON FUNCTION bravo._bravo_doctor_snowflake() IS
  'Internal: the checks of bravo_doctor() that need Snowflake or the secret files (settings, secret file, live login, each enabled family''s source).';
COMMENT ON FUNCTION bravo._bravo_doctor_tables() IS
  'Internal: bravo_doctor()''s checks of the metric tables: rows, lag behind today against bravo_metrics.expected_lag_days, and the last 7 days'' rows against the 7 before.';
COMMENT ON FUNCTION bravo._bravo_doctor_count(text) IS
  'Internal: the rows of the media tool''s table name, counted up to a million and one; NULL when there is no such table.';
COMMENT ON FUNCTION bravo._bravo_freshness(boolean) IS
  'Internal: per enabled family''s table, latest date (and hour), lag, staleness and last successful sync; with with_counts also the rows per day of the last 14 days.';
COMMENT ON FUNCTION bravo._bravo_monitoring_acl(regrole, boolean) IS
  'Internal: grants (or with do_revoke, revokes) what a monitoring role needs for bravo_doctor(), bravo_schedule_status(), bravo_intraday_status() and bravo_freshness.';
COMMENT ON TABLE bravo.bravo_stale_targets IS
  'Internal: the families whose data is stale (see bravo_freshness) and since when, so that a run notifies stale and fresh changes on channel bravo_metrics once each.';
COMMENT ON FUNCTION bravo._bravo_notify_staleness(bigint) IS
  'Internal: compares bravo_freshness with bravo.bravo_stale_targets and notifies the changes on channel bravo_metrics (stale and fresh events for run run_id); returns the number of families that changed.';

-- Progress (lib.rs).
COMMENT ON VIEW bravo_sync_progress IS
  'Live progress of running syncs, from any session: backend pid, run_id, phase (starting, connecting, fetching, merging, finishing), the family being synced, rows fetched, compared, set aside, inserted, updated and deleted, the source''s row count when known, and the start time.';

COMMENT ON FUNCTION bravo._bravo_sync_progress_info() IS
  'Internal: every running sync''s progress slot (pid, the run log''s relation, the 12 parameters; zeros for another user''s sync unless the caller is a member of pg_read_all_stats); behind the view bravo_sync_progress.';

-- The distributed layout on Citus (citus/node.sql, citus/layout.sql).
COMMENT ON FUNCTION bravo._bravo_citus_node() IS
  'Internal: which Citus node this database is: none (no Citus here), coordinator, or worker.';
COMMENT ON FUNCTION bravo._bravo_distributed() IS
  'Internal: true when the media tool''s tables are in the distributed layout (Citus knows media_buys: bravo_distribute() ran).';
COMMENT ON FUNCTION bravo._bravo_check_not_worker() IS
  'Internal: raises (0A000) on a Citus worker node, where the coordinator syncs.';
COMMENT ON FUNCTION bravo._bravo_family_tables() IS
  'Internal: every metric family''s table that exists (daily and hourly), in catalog order.';
COMMENT ON FUNCTION bravo._bravo_as_owner(regclass, text, text) IS
  'Internal: runs a Citus call on a table as the table''s owner (its constraints and defaults never run as the superuser calling bravo_distribute).';
COMMENT ON FUNCTION bravo._bravo_distribute_table(regclass, integer) IS
  'Internal: distributes a metric table by media_buy_id, co-located with the others, unless it is distributed already; returns whether it did.';
COMMENT ON FUNCTION bravo._bravo_report_detach_triggers() IS
  'Internal: drops the rollup triggers from the media tool''s tables (Citus refuses triggers on its tables); returns how many.';
COMMENT ON FUNCTION bravo_distribute(integer) IS
  'Turns the media tool into the distributed layout on the coordinator of a Citus cluster: media_buys a reference table, every family table distributed by media_buy_id (co-located, shard_count shards), the reports read the metric tables. Rows kept; idempotent. One row per table.';
COMMENT ON FUNCTION bravo._bravo_rollup_sums(regclass) IS
  'Internal: coalesce(sum(x.column), 0)::type of every value column of a daily rollup, in the table''s column order.';
COMMENT ON FUNCTION bravo._bravo_campaign_literal(anyelement) IS
  'Internal (distributed layout): a campaign id as a SQL literal of media_buys.campaign_id''s type, put into each pushed-down query as a constant.';
COMMENT ON FUNCTION bravo._bravo_collect(text[]) IS
  'Internal (distributed layout): runs each query (one per family table, pushed down by Citus) and returns their rows as jsonb objects, for a local query to add up.';
COMMENT ON FUNCTION bravo._bravo_rollup_own_sums(text) IS
  'Internal (distributed layout): a daily table''s own rollup columns summed over a group of rows, named as in the rollups.';
COMMENT ON FUNCTION bravo._bravo_campaign_rows_of(anyelement) IS
  'Internal (distributed layout): the rows the campaign rollup would hold for a campaign, from the metric tables in one pushed-down query.';
COMMENT ON FUNCTION bravo._bravo_campaign_hours_of(anyelement) IS
  'Internal (distributed layout): the rows the hourly rollup would hold for a campaign, from the hourly tables in one pushed-down query.';
COMMENT ON FUNCTION bravo._bravo_buy_sums_of(anyelement, date, date) IS
  'Internal (distributed layout): per media buy of a campaign with data in the range, its first and last date and its sums there.';
COMMENT ON FUNCTION bravo._bravo_report_direct(text) IS
  'Internal: a report body for the layout in place (in the distributed layout, rollup reads become the pushed-down functions and the body runs in PL/pgSQL).';
