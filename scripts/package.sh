#!/usr/bin/env bash
# Builds the Debian package postgresql-15-bravo-metrics, the way extensions such as
# pg_search ship: `cargo pgrx package` stages the library, the control file and every
# SQL install and upgrade script; dpkg-deb wraps them with a control file that depends
# on the PostgreSQL 15 server, plus the license, changelog and README under
# /usr/share/doc. dpkg unpacks each file under a temporary name and renames it into
# place, so installing or upgrading the package under a running server is as safe as
# scripts/install.sh.
#
# Usage: bash scripts/package.sh [--debug]   -> prints the .deb's path (target/debian/)
# Install: dpkg -i <deb>  (or apt-get install ./<deb>); remove: dpkg -r postgresql-15-bravo-metrics
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
if [ "${1:-}" = "--debug" ]; then
    build=(--debug) dir=debug
else
    build=() dir=release
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
name=postgresql-15-bravo-metrics
stage="target/$dir/bravo_metrics-pg15"
rm -rf "$stage"
cargo pgrx package --pg-config "$PG_CONFIG" "${build[@]}" >&2
root="target/debian/$name"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
cp -a "$stage/usr" "$root/"
cp LICENSE "$root/usr/share/doc/$name/copyright"
gzip -9n -c CHANGELOG.md > "$root/usr/share/doc/$name/changelog.gz"
cp README.md "$root/usr/share/doc/$name/README.md"
find "$root/usr" -type d -exec chmod 0755 {} +
find "$root/usr" -type f -exec chmod 0644 {} +
size=$(du -sk "$root/usr" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: bravo_metrics developers <bravo-metrics@localhost>
Depends: postgresql-15
Section: database
Priority: optional
Installed-Size: $size
Description: Snowflake performance metrics synced into PostgreSQL 15
 bravo_metrics is a PostgreSQL extension: bravo_sync() pulls ad-tech performance
 metrics (impressions, clicks, spend, video views, ...) from Snowflake and merges
 them into the media tool's tables; its background worker runs the sync on a
 schedule; set-returning functions report on campaigns in the database.
 After installing: shared_preload_libraries = 'bravo_metrics' (for the
 scheduler), then CREATE EXTENSION bravo_metrics, or ALTER EXTENSION
 bravo_metrics UPDATE in each database that has an older version.
CONTROL
deb="target/debian/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
