SELECT * FROM bravo_campaigns_totals(:ids::bigint[], :from::date, :to::date);
