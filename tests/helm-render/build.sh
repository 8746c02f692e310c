#!/usr/bin/env bash
# Builds helm-render offline from Debian's Go packages (GOPATH mode: Debian has no helm binary and no Go module proxy is reachable):
#   bash tests/helm-render/build.sh OUT_BINARY
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/github.com/Masterminds" "$work/src/helm-render"
# GOPATH mode has no major-version suffixes: map the /v3 import paths onto Debian's sources.
mkdir -p "$work/src/github.com/Masterminds/sprig" "$work/src/github.com/Masterminds/semver"
ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$work/src/github.com/Masterminds/sprig/v3"
ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$work/src/github.com/Masterminds/semver/v3"
cp "$here/main.go" "$work/src/helm-render/"
cd "$work/src/helm-render"
GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOCACHE="$work/cache" go build -o "$out" .
