#!/usr/bin/env bash
# The test command: installs what is missing, builds in Release (warnings are errors) and runs
# every test project. Results (TRX) land in artifacts/test-results.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

results=artifacts/test-results
rm -rf "$results"
dotnet build HardPair.Services.sln -c Release -warnaserror
# One test project at a time: the Torch tests use both cores.
dotnet test HardPair.Services.sln -c Release --no-build -m:1 \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results"
