#!/usr/bin/env bash
# Installs bravo_metrics into this machine's PostgreSQL 15 (/usr/bin/pg_config) without
# overwriting a file a running server has open.
#
# `cargo pgrx package` stages the library, the control file and every SQL script
# (install and upgrade) under target/<profile>/bravo_metrics-pg15/; each file is then
# copied next to its destination under a temporary name and renamed into place.
# rename(2) replaces the directory entry atomically: a backend that has the old library
# mapped keeps it (its inode lives on until unmapped), a new backend loads the new one.
# (`cargo pgrx install` copies over the library in place, which rewrites the pages every
# running backend has mapped: SIGSEGV, and the postmaster's crash recovery.)
#
# Usage: bash scripts/install.sh [--debug]     (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
if [ "${1:-}" = "--debug" ]; then
    build=(--debug) dir=debug
else
    build=() dir=release
fi
stage="target/$dir/bravo_metrics-pg15"
rm -rf "$stage"
cargo pgrx package --pg-config "$PG_CONFIG" "${build[@]}" >&2
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)/extension
# Scripts first, the library last: a backend that loads the new library finds the SQL
# it expects already there.
install_renamed() { # staged file, destination directory
    local name tmp
    name=$(basename "$1")
    tmp="$2/.$name.$$.tmp"
    install -m 0644 "$1" "$tmp"
    mv -f "$tmp" "$2/$name"
}
mkdir -p "$sharedir"
for f in "$stage$sharedir"/*; do
    install_renamed "$f" "$sharedir"
done
for f in "$stage$libdir"/*; do
    install_renamed "$f" "$libdir"
done
echo "installed bravo_metrics ($dir build) into $libdir and $sharedir (each file renamed into place)" >&2
