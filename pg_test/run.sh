#!/bin/bash
# SQL regression tests of the reporting functions, run against a running cluster
# where bravo_metrics is installed (cargo pgrx install):
#
#     pg_test/run.sh /tmp/sock 5432 [user]   # host or socket dir, port, superuser
#
# Creates (or recreates) the database bravo_report_regress, runs pg_test/schedule
# with pg_regress --use-existing, prints the diffs and exits non-zero on any.
# The user (default: $PGUSER, else postgres) must be a superuser: the tests create
# the extension and two roles of their own.
set -euo pipefail
host=${1:?usage: run.sh HOST_OR_SOCKET_DIR PORT}
port=${2:?usage: run.sh HOST_OR_SOCKET_DIR PORT}
user=${3:-${PGUSER:-postgres}}
here=$(cd "$(dirname "$0")" && pwd)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
regress=${PG_REGRESS:-/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress}
db=bravo_report_regress
out=$(mktemp -d /tmp/bravo_report_regress.XXXXXX)
chmod 777 "$out"

psql=("$bindir/psql" -X -q -h "$host" -p "$port" -U "$user" -d postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"

status=0
"$regress" --use-existing --host="$host" --port="$port" --user="$user" --dbname="$db" \
    --bindir="$bindir" --inputdir="$here" --outputdir="$out" \
    --schedule="$here/schedule" || status=$?
if [ $status -ne 0 ] && [ -f "$out/regression.diffs" ]; then
    cat "$out/regression.diffs"
    echo "results kept in $out" >&2
else
    rm -rf "$out"
fi
exit $status
