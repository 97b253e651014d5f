-- bravo_media_buy_totals: one row per media buy of the campaign.
\pset null '(null)'
-- buy 1: 1000 imp, 10 clicks, 5.00; video 450/125/340 -> ctr 0.01, cpm 5, cpc 0.5,
--        completion 125/450, view rate 340/1000 = 0.34, cpcv 5.00/125 = 0.04
-- buy 2: 3500 imp, 20 clicks, 8.75; video 0/0/0 -> ctr 20/3500, cpm 2.5, cpc 0.4375,
--        completion NULL, view rate 0, cpcv NULL
SELECT * FROM bravo_media_buy_totals(10);
-- date bounds: only 2024-01-04 .. : buy 1 has only video on -05, buy 2 only -04
SELECT * FROM bravo_media_buy_totals(10, '2024-01-04');
-- a buy without data appears with zeros
SELECT media_buy_id, impressions, spend, ctr, first_date FROM bravo_media_buy_totals(20);
-- unknown campaign: no rows
SELECT count(*) FROM bravo_media_buy_totals(999);
-- the buys add up to the campaign totals
SELECT (SELECT (sum(impressions), sum(clicks), sum(spend), sum(video_starts),
                sum(video_completions), sum(video_views)) FROM bravo_media_buy_totals(10))
     = (SELECT (impressions::numeric, clicks::numeric, spend, video_starts::numeric,
                video_completions::numeric, video_views::numeric)
          FROM bravo_campaign_totals(10)) AS buys_add_up;
