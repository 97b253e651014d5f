#!/usr/bin/env python3
"""Copies src/citus/node.sql and src/citus/layout.sql into the 0.3.0 -> 0.4.0 upgrade
script's two Citus blocks (the upgrade must create the same objects a fresh install
has; tests/upgrade.rs compares them)."""
import pathlib

root = pathlib.Path(__file__).resolve().parents[2]
up = root / "sql/bravo_metrics--0.3.0--0.4.0.sql"
s = up.read_text()
node = (root / "src/citus/node.sql").read_text()
layout = (root / "src/citus/layout.sql").read_text()
k = layout.index("-- A report body (report.sql) for the layout in place")
direct, rest = layout[k:], layout[:k]
rest = rest[rest.index("-- The family tables there are"):]

HEAD1 = "\n-- Citus: which node this is and whether the tables are distributed (citus/node.sql),\n"
a = s.index(HEAD1)
b = s.index("REVOKE ALL ON FUNCTION bravo._bravo_report_direct(text) FROM PUBLIC;\n", a)
b += len("REVOKE ALL ON FUNCTION bravo._bravo_report_direct(text) FROM PUBLIC;\n")
early = (HEAD1 + "-- and the report bodies' hook for the distributed layout (citus/layout.sql): the\n"
         "-- rollup and report functions below call them.\n" + node.split("\n", 4)[4] + "\n" + direct)
s = s[:a] + early + s[b:]

HEAD2 = "-- The distributed layout on Citus (citus/layout.sql).\n"
a = s.index(HEAD2)
end = "REVOKE ALL ON FUNCTION bravo._bravo_buy_sums_of(anyelement, date, date) FROM PUBLIC;\n"
b = s.index(end, a) + len(end)
s = s[:a] + HEAD2 + rest[: rest.index(end) + len(end)] + s[b:]
up.write_text(s)
