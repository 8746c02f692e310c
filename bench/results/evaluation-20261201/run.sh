#!/usr/bin/env bash
# The evaluation behind docs/EVALUATION.md's tables (run by hand, one after another, nothing else
# heavy running; ~70 minutes on 2 cores). Recorded at 96fca23..cc904f4 with a private copy of the
# build in .local/eval-bin, as below.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/evaluation-20261201
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
rm -rf .local/eval-bin && mkdir -p .local && cp -rL src/TrainerSidecar/bin/Release/net10.0 .local/eval-bin
trainer=(dotnet .local/eval-bin/HardPair.TrainerSidecar.dll)
shipped=models/bootstrap/v20261125T202913066Z-a9cd1db9
# The second model: PGD-AT on the same budget as the shipped SPAT one (pgd-at-train.*).
if ! ls -d .local/models-eval/pgd-at/v* >/dev/null 2>&1; then
  "${trainer[@]}" train --method pgd-at --head cosine --epochs 6 --train-subset 12000 --seed 1 \
    --test-subset 1000 --attacks clean,pgd20 --out .local/models-eval/pgd-at > "$out/pgd-at-train.json" 2> >(grep -v '^step' > "$out/pgd-at-train.log")
fi
pgdat=$(ls -d .local/models-eval/pgd-at/v* | head -n 1)
run() { local name=$1; shift; echo "${trainer[*]} evaluate $*" > "$out/$name.command"; /usr/bin/time -v "${trainer[@]}" evaluate "$@" --json > "$out/$name.json" 2> "$out/$name.log"; }
run shipped-seed0 --checkpoint $shipped --attacks clean,pgd20,cw,apgd-ce,apgd-dlr,apgd-t,square,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 0
run shipped-seed1 --checkpoint $shipped --attacks clean,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 1
run pgd-at-seed0 --checkpoint $pgdat --attacks clean,pgd20,apgd-ce,apgd-ce+apgd-t3,autoattack --test-subset 1000 --seed 0
