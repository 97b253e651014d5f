#!/usr/bin/env bash
# Builds and installs Citus 13.2.2 (the distributed PostgreSQL engine of the scale-out
# layout, README "Scale-out on Citus") into the system PostgreSQL 15, when it is not
# installed yet. Idempotent: it does nothing when citus.so of 13.2.2 is in place.
#   Source: ../shared/vendor/citus-13.2.2.tar.gz when present, otherwise the upstream
#   release tarball; either way its sha256 is checked. Citus 13.2.2 is the last line that
#   supports PostgreSQL 15 (Citus 14 dropped it); no package registry here carries it.
#   scripts/citus/citus-13.2.2-pg15.20.patch renames a compatibility shim that clashes
#   with a function Debian's PostgreSQL 15.20 exports.
# The build (about 3 CPU-minutes) is kept in ~/.cache/bravo_metrics so a re-install
# after a PostgreSQL package upgrade does not rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
version=13.2.2
sha=dd2453caec20a830e5e63f1def5c5a98cb6f57ae510407cdcd800916fcdab430
libdir=$(pg_config --pkglibdir)
sharedir=$(pg_config --sharedir)
if [ -f "$libdir/citus.so" ] && [ -f "$sharedir/extension/citus.control" ] \
    && grep -qs "^$version\$" "$sharedir/extension/citus.bravo-version"; then
    exit 0
fi

need=()
for p in liblz4-dev libzstd-dev libcurl4-openssl-dev libkrb5-dev libssl-dev libicu-dev make gcc patch; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    printf '\n== apt-get install %s\n' "${need[*]}"
    apt-get update -q >/dev/null
    apt-get install -y -q "${need[@]}" >/dev/null
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/bravo_metrics"
mkdir -p "$cache"
tarball="$cache/citus-$version.tar.gz"
if [ -f ../shared/vendor/citus-$version.tar.gz ]; then
    cp ../shared/vendor/citus-$version.tar.gz "$tarball.part"
elif [ ! -f "$tarball" ]; then
    curl -fsSL -o "$tarball.part" "https://github.com/citusdata/citus/archive/refs/tags/v$version.tar.gz"
fi
[ -f "$tarball.part" ] && mv "$tarball.part" "$tarball"
echo "$sha  $tarball" | sha256sum -c --quiet

src="$cache/citus-$version"
if [ ! -f "$src/.bravo-built" ]; then
    printf '\n== building Citus %s (a few minutes)\n' "$version"
    rm -rf "$src"
    tar xzf "$tarball" -C "$cache"
    patch -d "$src" -p1 < scripts/citus/citus-$version-pg15.20.patch
    (cd "$src" && ./configure -q PG_CONFIG=/usr/bin/pg_config >/dev/null && make -s -j"$(nproc)" >/dev/null)
    touch "$src/.bravo-built"
fi
# make install writes each file anew (install(1) unlinks the old one first), so a
# running server that has citus.so mapped keeps its copy.
make -s -C "$src" install >/dev/null
echo "$version" > "$sharedir/extension/citus.bravo-version"
printf '\n== Citus %s installed\n' "$version"
