#!/usr/bin/env bash
# Stands in for debootstrap in tests/host/test_basalt_command.sh: makes the folders
# scripts/forky writes into, in the target it is given (debootstrap's argument order:
# --variant=minbase SUITE TARGET MIRROR SCRIPT). FAKE_DEBOOTSTRAP_FAIL=1 makes it fail halfway.
set -euo pipefail
target=$3
mkdir -p "$target/etc/apt/apt.conf.d" "$target/usr/bin"
echo "made by fake_debootstrap.sh" >"$target/usr/bin/fake-debootstrap-was-here"
if [ "${FAKE_DEBOOTSTRAP_FAIL:-}" = 1 ]; then
  echo "fake debootstrap: failing as asked" >&2
  exit 1
fi
