-- Bad arguments are errors with a SQLSTATE, a message and a HINT.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM bravo_campaign_totals(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaign_totals(10, '2024-02-01', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaigns_totals(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaigns_totals('{10,NULL}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaigns_totals('{10}', '2024-02-01', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_media_buy_totals(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_media_buy_totals(10, '2024-02-01', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaign_daily(NULL, '2024-01-01', '2024-01-02');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaign_daily(10, '2024-01-02', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaign_daily(10, NULL, '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM bravo_campaign_daily(10, '2024-01-01', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- 1001 days is one too many
SELECT * FROM bravo_campaign_daily(10, '2023-06-01', '2023-06-01'::date + 1000);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an unknown campaign with good arguments is not an error: no rows
SELECT count(*) FROM bravo_campaign_totals(999);
-- errors also come from LATERAL calls, per outer row
SELECT t.* FROM (VALUES (10::bigint), (NULL)) c (id)
 CROSS JOIN LATERAL bravo_campaign_totals(c.id) t;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
