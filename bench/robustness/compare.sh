#!/usr/bin/env bash
# Trains standard / PGD-AT / TRADES / SPAT on one budget with the offline `train` command and
# writes each run's JSON summary (evaluation, confusions, training curve) plus the report into bench/results/robustness-<stamp>/.
# Heavy: about 50 minutes on 2 CPU cores with the defaults (the autoattack suite is ~7 of them per
# method). Run by hand, record the table.
#
#   bash bench/robustness/compare.sh [--train-subset N] [--epochs E] [--test-subset N] [--methods a,b]
set -euo pipefail
cd "$(dirname "$0")/../.."

train_subset=12000
epochs=6
test_subset=1000
methods=standard,pgd-at,trades,spat
while [[ $# -gt 0 ]]; do
  case "$1" in
    --train-subset) train_subset=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --test-subset) test_subset=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

out="bench/results/robustness-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
# Run from a private copy: the build hard-links its outputs, so a rebuild during the (long) run
# would change the very files the running trainer has loaded.
cp -rL src/TrainerSidecar/bin/Release/net10.0 "$out/bin"
trainer=(dotnet "$out/bin/HardPair.TrainerSidecar.dll")

IFS=, read -ra list <<<"$methods"
for method in "${list[@]}"; do
  # Each baseline in its fair form: standard training with its usual linear head; the adversarial
  # methods on the cosine head with the same logit scale (s = 8), attack and optimiser.
  head=cosine
  [[ $method == standard ]] && head=linear
  cmd=("${trainer[@]}" train --method "$method" --head "$head" --epochs "$epochs" --train-subset "$train_subset"
       --seed 1 --test-subset "$test_subset" --attacks clean,fgsm,pgd20,cw,apgd-ce,autoattack --out "$out/store")
  echo "${cmd[*]}" | tee "$out/$method.command"
  "${cmd[@]}" >"$out/$method.json" 2>"$out/$method.log"
  grep -v '^step' "$out/$method.log" | tail -n 6
done
rm -rf "$out/bin"

# The table (printed and written to table.md), report.json, the adversarial confusion heatmaps and
# the training curves (PNG).
dotnet build bench/Report -c Release -warnaserror -v quiet -nologo >/dev/null
dotnet bench/Report/bin/Release/net10.0/HardPair.Bench.Report.dll "$out"
