SELECT * FROM bravo_campaign_daily(:cid, :from::date, :to::date);
