#!/usr/bin/env bash
# The evaluation behind docs/EVALUATION.md's tables (run by hand, one after another, nothing else heavy running).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/evaluation-20261201
trainer=(dotnet .local/eval-bin/HardPair.TrainerSidecar.dll)
shipped=models/bootstrap/v20261125T202913066Z-a9cd1db9
pgdat=.local/models-eval/pgd-at/v20261201T125117800Z-e26ee038
run() { local name=$1; shift; echo "${trainer[*]} evaluate $*" > "$out/$name.command"; /usr/bin/time -v "${trainer[@]}" evaluate "$@" --json > "$out/$name.json" 2> "$out/$name.log"; }
run shipped-seed0 --checkpoint $shipped --attacks clean,pgd20,cw,apgd-ce,apgd-dlr,apgd-t,square,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 0
run shipped-seed1 --checkpoint $shipped --attacks clean,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 1
run pgd-at-seed0 --checkpoint $pgdat --attacks clean,pgd20,apgd-ce,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 0

