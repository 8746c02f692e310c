#!/usr/bin/env bash
# Trains standard / PGD-AT / TRADES / SPAT on one budget with the offline `train` command and
# writes each run's JSON summary plus a markdown table into bench/results/robustness-<stamp>/.
# Heavy: about 25 minutes on 2 CPU cores with the defaults. Run by hand, record the table.
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
       --seed 1 --test-subset "$test_subset" --attacks clean,pgd20,cw,apgd --out "$out/store")
  echo "${cmd[*]}" | tee "$out/$method.command"
  "${cmd[@]}" >"$out/$method.json" 2>"$out/$method.log"
  grep -v '^step' "$out/$method.log" | tail -n 6
done
rm -rf "$out/bin"

/usr/bin/python3 - "$out" "${list[@]}" <<'PY' | tee "$out/table.md"
import json, sys
out, methods = sys.argv[1], sys.argv[2:]
print("| method | head | clean | PGD-20 | CW-∞ | APGD-CE | hard-pair share (PGD-20) | ECE before → after | train time |")
print("|---|---|---|---|---|---|---|---|---|")
for m in methods:
    s = json.load(open(f"{out}/{m}.json"))
    e = s["evaluation"]
    acc = {a["name"]: a["accuracy"] for a in e["attacks"]}
    head = "linear" if m == "standard" else "cosine"
    c = e["calibration"]
    print(f"| {m} | {head} | {e['clean']:.1%} | {acc['pgd20']:.1%} | {acc['cw']:.1%} | {acc['apgd']:.1%} | "
          f"{e['hardPairShare']:.2f} | {c['eceBefore']:.1%} → {c['eceAfter']:.1%} | {s['trainSeconds']/60:.1f} min |")
PY
