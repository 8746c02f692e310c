#!/usr/bin/env bash
# Trains the methods on one budget with the offline `train` command and writes each run's JSON
# summary (evaluation, confusions, training curve) plus the report into
# bench/results/robustness-<stamp>/. Heavy: about 15 minutes per run on 2 CPU cores with the
# defaults (the autoattack suite is ~7-9 of them). Run by hand, record the table.
#
#   bash bench/robustness/compare.sh [--train-subset N] [--epochs E] [--attack-steps K]
#        [--test-subset N] [--methods method[:head],...] [--seeds 1,2,3] [--recipe "train args"]
#        [--partners CHECKPOINT|C0,C1,...] [--jobs N] [--out DIR]
#
# Each method in its fair form: a head per method (default: standard on a linear head, the
# adversarial methods on the cosine head with s = 8), the same budget, training attack and
# --recipe (e.g. "--schedule onecycle --learning-rate 0.1 --weight-decay 5e-4"); with several
# seeds each run is <method>-s<seed>.json and the table shows mean ± sd; with --partners every
# run's hard-pair share is also scored against that checkpoint's partners (APGD-CE's examples).
# --out DIR resumes a table: a run whose JSON is already in DIR is not run again (a run stopped
# half-way leaves only a .part), so a table too long for one sitting is built over several.
# --jobs N runs N trainings at once, each with nproc/N threads (on 2 cores, two one-thread runs
# finish sooner than two two-thread runs one after the other); each run is claimed with a lock
# file, so two invocations on one --out never run the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."

train_subset=12000
epochs=6
attack_steps=10
test_subset=1000
methods=standard,pgd-at,trades,spat
seeds=1
recipe=""
partners=""
out=""
jobs=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --train-subset) train_subset=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --attack-steps) attack_steps=$2; shift 2 ;;
    --test-subset) test_subset=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --recipe) recipe=$2; shift 2 ;;
    --partners) partners=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

out=${out:-bench/results/robustness-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
# Run from a private copy: the build hard-links its outputs, so a rebuild during the (long) run
# would change the very files the running trainer has loaded.
bin=$(mktemp -d "$out/bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
cp -rL src/TrainerSidecar/bin/Release/net10.0/. "$bin"
trainer=(dotnet "$bin/HardPair.TrainerSidecar.dll")
threads=()
((jobs > 1)) && threads=(--threads $(($(nproc) / jobs > 0 ? $(nproc) / jobs : 1)))

IFS=, read -ra list <<<"$methods"
IFS=, read -ra seed_list <<<"$seeds"
read -ra recipe_args <<<"$recipe"

# One worker: every run in order, skipping those done or claimed by another worker.
work() {
  local entry method head label seed name lock
  for entry in "${list[@]}"; do
    method=${entry%%:*}
    head=cosine
    [[ $method == standard ]] && head=linear
    [[ $entry == *:* ]] && head=${entry#*:}
    label=$method
    [[ $entry == *:* ]] && label="$method-$head"
    for seed in "${seed_list[@]}"; do
      name=$label
      ((${#seed_list[@]} > 1)) && name="$label-s$seed"
      cmd=("${trainer[@]}" train --method "$method" --head "$head" --epochs "$epochs" --train-subset "$train_subset"
           --attack-steps "$attack_steps" --seed "$seed" "${recipe_args[@]}"
           --test-subset "$test_subset" --attacks clean,fgsm,pgd20,cw,apgd-ce,autoattack --out "$out/store" "${threads[@]}")
      [[ -n $partners ]] && cmd+=(--partners "$partners")
      [[ -s $out/$name.json ]] && continue
      exec {lock}>"$out/$name.lock"
      if ! flock -n "$lock"; then exec {lock}>&-; continue; fi
      if [[ ! -s $out/$name.json ]]; then
        echo "${cmd[*]}" | tee "$out/$name.command"
        "${cmd[@]}" >"$out/$name.json.part" 2>"$out/$name.log"
        mv "$out/$name.json.part" "$out/$name.json"
        grep -v '^step' "$out/$name.log" | tail -n 6
      fi
      exec {lock}>&-
      rm -f "$out/$name.lock"
    done
  done
}

pids=()
for ((w = 0; w < jobs; w++)); do
  work &
  pids+=($!)
  sleep 2
done
for pid in "${pids[@]}"; do wait "$pid"; done

# The table (printed and written to table.md), report.json, the adversarial confusion heatmaps and
# the training curves (PNG).
dotnet build bench/Report -c Release -warnaserror -v quiet -nologo >/dev/null
dotnet bench/Report/bin/Release/net10.0/HardPair.Bench.Report.dll "$out"
