-- Builds the history: :buys media buys x :days days in both metric tables, ending
-- yesterday, the way a media_tool database filled by the legacy job looks (tables
-- created before the extension). Campaign 1 = media buys 1..200, campaign 2 = buys
-- 201..220, every other campaign has 20 buys. Rows are inserted day by day (the order
-- syncs write them), so a campaign's rows are spread over the whole heap.
-- Run with psql -v buys=N -v days=N -v part=buys|impressions|videos|finish.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';
SELECT :'part' = 'buys' AS do_buys, :'part' = 'impressions' AS do_imp,
       :'part' = 'videos' AS do_vid, :'part' = 'finish' AS do_finish \gset
\if :do_buys
CREATE TABLE media_buys (
    id          bigint PRIMARY KEY,
    campaign_id bigint NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO media_buys (id, campaign_id, name)
SELECT id, CASE WHEN id <= 200 THEN 1 WHEN id <= 220 THEN 2 ELSE 3 + (id - 221) / 20 END,
       'buy ' || id
  FROM generate_series(1, :buys) id;
CREATE INDEX media_buys_campaign_id_idx ON media_buys (campaign_id, id);
\endif
\if :do_imp
BEGIN;  -- created and filled in one transaction: no WAL with wal_level = minimal
CREATE TABLE platform_buy_daily_impressions (
    date         date   NOT NULL,
    media_buy_id bigint NOT NULL,
    impressions  bigint NOT NULL DEFAULT 0 CHECK (impressions >= 0),
    clicks       bigint NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    spend        numeric NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
SELECT current_date - :days + d, b, 1000 + (b * 7919 + d * 104729) % 9000,
       (1000 + (b * 7919 + d * 104729) % 9000) / 97, ((b * 31 + d * 17) % 100000) * 0.001
  FROM generate_series(0, :days - 1) d, generate_series(1, :buys) b;
ALTER TABLE platform_buy_daily_impressions ADD PRIMARY KEY (media_buy_id, date);
CREATE INDEX platform_buy_daily_impressions_date_idx ON platform_buy_daily_impressions (date);
COMMIT;
\endif
\if :do_vid
BEGIN;
CREATE TABLE platform_buy_daily_videos (
    date              date   NOT NULL,
    media_buy_id      bigint NOT NULL,
    video_starts      bigint NOT NULL DEFAULT 0 CHECK (video_starts >= 0),
    video_completions bigint NOT NULL DEFAULT 0 CHECK (video_completions >= 0),
    video_views       bigint NOT NULL DEFAULT 0 CHECK (video_views >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views)
SELECT current_date - :days + d, b, 100 + (b * 131 + d * 71) % 900,
       (100 + (b * 131 + d * 71) % 900) / 3, (100 + (b * 131 + d * 71) % 900) / 2
  FROM generate_series(0, :days - 1) d, generate_series(1, :buys) b;
ALTER TABLE platform_buy_daily_videos ADD PRIMARY KEY (media_buy_id, date);
CREATE INDEX platform_buy_daily_videos_date_idx ON platform_buy_daily_videos (date);
COMMIT;
\endif
\if :do_finish
ALTER TABLE platform_buy_daily_impressions
    ADD FOREIGN KEY (media_buy_id) REFERENCES media_buys (id) NOT VALID;
ALTER TABLE platform_buy_daily_videos
    ADD FOREIGN KEY (media_buy_id) REFERENCES media_buys (id) NOT VALID;
\endif
