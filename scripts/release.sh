#!/usr/bin/env bash
# Cross-build the release binaries into dist/: one static binary per
# laptop platform, without local paths (-trimpath) or symbol and DWARF
# tables (-s -w), stamped with the version that `deploy version` prints.
#
#   scripts/release.sh [VERSION]    # default: git describe --tags --always --dirty
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty)}
platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)

rm -rf dist
mkdir -p dist
for p in "${platforms[@]}"; do
  goos=${p%/*} goarch=${p#*/}
  out="dist/deploy-$version-$goos-$goarch"
  [ "$goos" = windows ] && out+=.exe
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch \
    go build -trimpath -ldflags="-s -w -X main.version=$version" -o "$out" .
  echo "$out"
done
