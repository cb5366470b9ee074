#!/usr/bin/env bash
# Makes DIR a Debian bookworm root filesystem trimmed the way the official
# debian:bookworm-slim image is (no docs but copyright files, no man pages, locales
# or apt lists), from Debian's packages alone: the base image the container test
# imports where no registry can be reached. A finished DIR is reused (DIR.complete
# marks it), so .ci/run makes it once per run and the test, outside CI, once per
# machine. Usage: base-rootfs.sh DIR   (as root; DEBIAN_MIRROR overrides the mirror)
set -euo pipefail
dir=${1:?usage: base-rootfs.sh DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$(dirname "$dir")"
# Two runs on one machine wait for each other instead of debootstrapping one DIR twice.
exec 9>"$dir.lock"
flock 9
if [ -f "$dir.complete" ]; then
  echo "base rootfs: reusing $dir"
  exit 0
fi
rm -rf "$dir"
echo "base rootfs: debootstrap --variant=minbase bookworm $dir ($mirror), about 30 s"
start=$(date +%s)
if ! debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1; then
  tail -20 "$dir.log" >&2
  echo "base rootfs: debootstrap failed; full log in $dir.log" >&2
  exit 1
fi
# What debuerreotype leaves out of the -slim images, and apt's caches.
cd "$dir"
rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
  usr/share/man/* usr/share/info/* usr/share/groff/* usr/share/lintian/* usr/share/linda/*
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -type d -empty -delete
find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
touch "$dir.complete"
echo "base rootfs: $(du -sh . | cut -f1) in $(( $(date +%s) - start )) s"
