SELECT * FROM bravo_campaign_totals(:cid, :from::date, :to::date);
