#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for building, testing and running HardPair.
# Idempotent: installs only what is missing. The TorchSharp native workaround needs no step
# here; the runtime applies it by itself (docs/TORCH_RUNTIME.md).
set -euo pipefail

# python3-grpc-tools and python3-grpcio: the Python client test (a non-.NET client).
# golang-go + sprig + yaml.v3 and yamllint: rendering and linting the Helm chart without helm.
# curl: the README's call to the Open Inference Protocol's REST twin, run by the local-stack test.
APT_PACKAGES=(dataset-fashion-mnist python3-grpc-tools python3-grpcio curl
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev yamllint)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "bootstrap: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "bootstrap: the .NET SDK (dotnet, 10.0.1xx or later) is not on PATH" >&2; exit 1; }
