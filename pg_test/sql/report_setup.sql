-- The media tool's tables, as a media_tool database has them, then the extension over
-- them, then a fixture of hand-sized numbers; later tests write the expected values
-- next to each query.
CREATE TABLE media_buys (
    id          bigint PRIMARY KEY,
    campaign_id bigint NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE platform_buy_daily_impressions (
    date         date   NOT NULL,
    media_buy_id bigint NOT NULL REFERENCES media_buys (id),
    impressions  bigint NOT NULL DEFAULT 0 CHECK (impressions >= 0),
    clicks       bigint NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    spend        numeric NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_buy_id, date)
);
CREATE TABLE platform_buy_daily_videos (
    date              date   NOT NULL,
    media_buy_id      bigint NOT NULL REFERENCES media_buys (id),
    video_starts      bigint NOT NULL DEFAULT 0 CHECK (video_starts >= 0),
    video_completions bigint NOT NULL DEFAULT 0 CHECK (video_completions >= 0),
    video_views       bigint NOT NULL DEFAULT 0 CHECK (video_views >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_buy_id, date)
);
SET client_min_messages = warning;
CREATE EXTENSION bravo_metrics;
RESET client_min_messages;
-- Fixture for the reporting regression tests: hand-sized numbers, hand-computed
-- expectations in the tests that use it.
--   campaign 10: buys 1 and 2, data on 2024-01-01, -03, -04, -05 (nothing on -02)
--   campaign 20: buy 3, no data at all
--   campaign 30: buy 4, one day
INSERT INTO media_buys (id, campaign_id, name) VALUES
    (1, 10, 'buy one'), (2, 10, 'buy two'), (3, 20, 'empty buy'), (4, 30, 'other campaign');
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend) VALUES
    ('2024-01-01', 1, 1000, 10, 5.00),
    ('2024-01-01', 2, 3000, 20, 7.50),
    ('2024-01-03', 1,    0,  0, 0),
    ('2024-01-04', 2,  500,  0, 1.25),
    ('2024-01-01', 4,  200,  2, 0.333333333333333333333333);
INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views) VALUES
    ('2024-01-01', 1, 400, 100, 300),
    ('2024-01-04', 2,   0,   0,   0),
    ('2024-01-05', 1,  50,  25,  40);

-- the extension added the campaign index media_buys lacked, and its twelve triggers
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'media_buys'::regclass ORDER BY 1;
SELECT count(*) AS triggers FROM pg_trigger t JOIN pg_depend d
    ON d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'e'
 WHERE t.tgname LIKE 'bravo\_rollup\_%';
-- the rollup holds one row per (campaign, date) with data
SELECT campaign_id, date, impressions, clicks, spend, video_starts, video_completions,
       video_views, impression_rows, video_rows
  FROM bravo.bravo_campaign_rollup ORDER BY campaign_id, date;
