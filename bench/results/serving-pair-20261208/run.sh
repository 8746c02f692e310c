#!/usr/bin/env bash
# The serving benchmark on three checkpoints back to back (2026-12-08, right after anchor attempt
# 3's evaluation, nothing else running): the first bootstrap, anchor attempt 2 (shipped) and
# anchor attempt 3, each alone in a store of its own. Pinned: the service and its limit on CPU 1,
# the load generator on CPU 0.
set -euo pipefail
cd "$(dirname "$0")/../../.."
stores=$(mktemp -d)
mkdir -p "$stores"/first "$stores"/attempt2 "$stores"/attempt3
cp -r tests/fixtures/checkpoints/v20261125T202913066Z-a9cd1db9 "$stores"/first/
cp -r bench/results/anchor-20261201/attempt2.checkpoint "$stores"/attempt2/v20261208T005606947Z-2b39eaf9
cp -r models/bootstrap/v20261208T050244145Z-a3aa02a3 "$stores"/attempt3/
out=${1:-bench/results/serving-pair-$(date -u +%Y%m%d)}
for model in first attempt2 attempt3; do
  mkdir -p "$out/$model"
  taskset -c 0 dotnet bench/Serving/bin/Release/net10.0/HardPair.Bench.Serving.dll --seconds 8 --service-cpus 1 \
    --store "$stores/$model" --out "$out/$model" | tee "$out/$model/serving.log"
done
