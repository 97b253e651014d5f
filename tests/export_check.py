"""Independent checks of an extracted export, for tests/export.rs.

Decodes every MongoDB Extended JSON line with pymongo's bson.json_util, loads the
collections into mongomock, and runs the seed's aggregations for one campaign's media
buys: the totals ($match + $in + $group) and the daily rows (find sorted by date,
summed per date). Prints one JSON object: {"totals": {...}, "daily": [[date, ...]]}.

usage: export_check.py EXTRACTED_ROOT MEDIA_BUY_IDS_JSON
"""
import glob
import json
import os
import sys

import mongomock
from bson import json_util
from bson.decimal128 import Decimal128

root, buys = sys.argv[1], json.loads(sys.argv[2])
db = mongomock.MongoClient().media_tool
for path in sorted(glob.glob(os.path.join(root, "mongodb", "*.json"))):
    name = os.path.basename(path)[: -len(".json")]
    with open(path, encoding="utf-8") as f:
        docs = [json_util.loads(line) for line in f if line.strip()]
    if docs:
        db[name].insert_many(docs)
    # A re-import with upsert on _id does not duplicate.
    for d in docs[:50]:
        db[name].replace_one({"_id": d["_id"]}, d, upsert=True)
    assert db[name].count_documents({}) == len(docs), name


def text(v):
    return str(v.to_decimal()) if isinstance(v, Decimal128) else v


imp = db.platformBuyDailyImpressions
vid = db.platformBuyDailyVideos
totals = {}
for row in imp.aggregate([
    {"$match": {"mediaBuyId": {"$in": buys}}},
    {"$group": {"_id": None, "impressions": {"$sum": "$impressions"},
                "clicks": {"$sum": "$clicks"}, "spend": {"$sum": "$spend"}}},
]):
    totals.update({k: text(v) for k, v in row.items() if k != "_id"})
for row in vid.aggregate([
    {"$match": {"mediaBuyId": {"$in": buys}}},
    {"$group": {"_id": None, "video_starts": {"$sum": "$videoStarts"},
                "video_completions": {"$sum": "$videoCompletions"}}},
]):
    totals.update({k: text(v) for k, v in row.items() if k != "_id"})

daily = {}
for d in imp.find({"mediaBuyId": {"$in": buys}}).sort("date", 1):
    day = d["date"].strftime("%Y-%m-%d")
    assert d["date"].hour == 0 and d["date"].minute == 0, "dates are UTC midnight"
    s = daily.setdefault(day, [0, 0])
    s[0] += d["impressions"]
    s[1] += d["clicks"]
print(json.dumps({"totals": totals, "daily": [[k, *v] for k, v in sorted(daily.items())]}))
