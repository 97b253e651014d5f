-- one round of sync_cost.sql with :mode triggers (off | on)
SELECT :'mode' = 'off' AS trig_off \gset
\if :trig_off
ALTER TABLE platform_buy_daily_impressions DISABLE TRIGGER USER;
\endif
CHECKPOINT;
CALL bench_step('insert 1.5M', :'mode', :r, :'ins');
CALL bench_step('update 3%', :'mode', :r, :'upd');
CALL bench_step('delete 1.5M', :'mode', :r, :'del');
ALTER TABLE platform_buy_daily_impressions ENABLE TRIGGER USER;
VACUUM platform_buy_daily_impressions;
