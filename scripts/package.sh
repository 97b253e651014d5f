#!/usr/bin/env bash
# Builds the Debian package postgresql-15-bravo-metrics, the way extensions such as
# pg_search ship: `cargo pgrx package` stages the library, the control file and every
# SQL install and upgrade script; dpkg-deb wraps them with a control file that depends
# on the PostgreSQL 15 server, plus the license, changelog and README under
# /usr/share/doc. dpkg unpacks each file under a temporary name and renames it into
# place, so installing or upgrading the package under a running server is as safe as
# scripts/install.sh.
#
# Usage: bash scripts/package.sh [--debug] [--release-of VERSION]
#   -> prints the .deb's path (target/debian/)
#   --release-of VERSION: the package of an earlier release instead, built from the
#   commit sql/released/COMMITS names (git archive of this clone's history, its own
#   Cargo.lock, a target directory of its own that is deleted afterwards): what a user
#   of that release has installed, for the upgrade test (tests/package.rs).
# Install: dpkg -i <deb>  (or apt-get install ./<deb>); remove: dpkg -r postgresql-15-bravo-metrics
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/bin/pg_config}
build=() dir=release release=""
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) build=(--debug) dir=debug ;;
        --release-of) release=${2:?--release-of needs a version}; shift ;;
        *) echo "usage: $0 [--debug] [--release-of VERSION]" >&2; exit 2 ;;
    esac
    shift
done
arch=$(dpkg --print-architecture)
name=postgresql-15-bravo-metrics
tree=.
if [ -n "$release" ]; then
    commit=$(awk -v v="$release" '$1 == v { print $2 }' sql/released/COMMITS)
    if [ -z "$commit" ]; then
        echo "release $release is not in sql/released/COMMITS" >&2
        exit 2
    fi
    if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
        echo "commit $commit (release $release) is not in this clone's history; a shallow clone? (git fetch --unshallow)" >&2
        exit 1
    fi
    tree="target/previous/$release"
    rm -rf "$tree"
    mkdir -p "$tree"
    git archive "$commit" | tar -x -C "$tree"
    # No debug info and no incremental cache: only the package is kept.
    (cd "$tree" && CARGO_TARGET_DIR="$PWD/target" CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0 \
        cargo pgrx package --pg-config "$PG_CONFIG" "${build[@]}" >&2)
else
    rm -rf "target/$dir/bravo_metrics-pg15"
    cargo pgrx package --pg-config "$PG_CONFIG" "${build[@]}" >&2
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$tree/Cargo.toml" | head -1)
stage="$tree/target/$dir/bravo_metrics-pg15"
root="target/debian/$name-$version"
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
cp -a "$stage/usr" "$root/"
cp LICENSE "$root/usr/share/doc/$name/copyright"
gzip -9n -c CHANGELOG.md > "$root/usr/share/doc/$name/changelog.gz"
cp "$tree/README.md" "$root/usr/share/doc/$name/README.md"
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
rm -rf "$root"
if [ -n "$release" ]; then
    rm -rf "$tree/target"
fi
echo "$deb"
