#!/usr/bin/env bash
# Runs each built image as the chart runs it — user 10001, a read-only root file system, writable
# /data, /tmp and /cache only — and asks its gRPC health service what the probes ask, from a
# client container that shares its network (the CLI's health command):
#   bash scripts/images/check-images.sh       (after scripts/build-images.sh; TAG as there)
# Fails, with the container's log, when an image does not come up SERVING.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${TAG:-0.1.0}
source scripts/images/podman-env.sh
dotnet build src/Cli -c Release -warnaserror -v quiet -nologo >/dev/null
cli=$PWD/src/Cli/bin/Release/net10.0
work=$(mktemp -d)
names=()
cleanup() {
  ((${#names[@]})) && "${PODMAN[@]}" rm -f "${names[@]}" >/dev/null 2>&1
  $SUDO rm -rf "$work"
}
trap cleanup EXIT

# check NAME IMAGE PORT SERVICE ENV...: start IMAGE as the chart would, then wait for SERVICE.
check() {
  local name=$1 image=$2 port=$3 service=$4; shift 4
  mkdir -p "$work/$name/data" "$work/$name/cache"
  $SUDO chown -R 10001:10001 "$work/$name"
  names+=("$name")
  "${PODMAN[@]}" run -d --name "$name" --user 10001:10001 --read-only --tmpfs /tmp \
    -v "$work/$name/data:/data" -v "$work/$name/cache:/cache" "$@" "$image" >/dev/null
  # Asked every few seconds for two minutes; a container that has exited fails at once.
  local tries=0
  until "${PODMAN[@]}" run --rm --network "container:$name" --user 10001:10001 --read-only -v "$cli:/cli:ro" \
      localhost/hardpair-base/aspnet:10.0 dotnet /cli/hardpair.dll health --address "http://127.0.0.1:$port" --service "$service" --wait 3; do
    if [[ $("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$name") != true ]] || ((++tries > 30)); then
      echo "images: $image did not come up; its log:" >&2
      "${PODMAN[@]}" logs "$name" >&2 || true
      exit 1
    fi
  done
  local size
  size=$("${PODMAN[@]}" image ls --format '{{.Size}}' "$image")
  echo "images: $image ($size) serves as user 10001 on a read-only root"
  # How TorchSharp's native library was bound inside (the workaround, or none needed).
  expect "$name" "Torch started on"
}

# expect NAME TEXT: the container's log gets a line with TEXT (printed) within a minute, else the
# check fails.
expect() {
  local line="" tries=0
  until line=$("${PODMAN[@]}" logs "$1" 2>&1 | grep -m 1 -F "$2"); do
    if ((++tries > 120)); then
      echo "images: $1's log has no '$2'" >&2
      "${PODMAN[@]}" logs "$1" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "images:   ${line#"${line%%[![:space:]]*}"}"
}

token=images-check-token-0123456789
check hardpair-check-inference "hardpair/inference:$TAG" 50051 hardpair.v1.Classifier \
  -e Checkpoints__Path=/data/checkpoints -e Admin__Token=$token
expect hardpair-check-inference "The empty store was seeded with"
check hardpair-check-trainer "hardpair/trainer:$TAG" 50061 liveness \
  -e Checkpoints__Path=/data/checkpoints -e Trainer__StatePath=/data/trainer -e Trainer__Continuous=false -e Control__Token=$token
