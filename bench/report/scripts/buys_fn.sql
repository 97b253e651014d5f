SELECT * FROM bravo_media_buy_totals(:cid, :from::date, :to::date);
