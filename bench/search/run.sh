#!/usr/bin/env bash
# Issue 21's search, on the validation split only (never the test set): which training recipe
# and which hard-pair loss are best at a small budget. Run by hand in the background, nothing
# else heavy beside it (~4-5 minutes per candidate on 2 cores):
#   nohup nice -n 19 bash bench/search/run.sh > bench/results/search-20261201/run.log 2>&1 &
# Budget of every candidate: 12 000 training images x 5 epochs x PGD-5 (step 0.025) at eps 0.1,
# seed 1. Measured on the 5 000 held-out validation images: clean on all, apgd-ce+apgd-t3 (the
# gate's suite) on the first 1 000; hard-pair share from APGD-CE's examples against the partner
# map of stage A's best PGD-AT model.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${SEARCH_OUT:-bench/results/search-20261201}
store=.local/search
mkdir -p "$out" "$store"
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
rm -rf .local/search-bin && cp -rL src/TrainerSidecar/bin/Release/net10.0 .local/search-bin
trainer=(dotnet .local/search-bin/HardPair.TrainerSidecar.dll)
budget=(--train-subset 12000 --epochs 5 --attack-steps 5 --attack-step-size 0.025 --seed 1
  --split validation --attacks clean,apgd-ce,apgd-ce+apgd-t3 --test-subset 1000)

run() {
  local name=$1; shift
  if [[ -s $out/$name.json ]]; then return; fi
  echo "$(date -u +%FT%TZ) $name: ${trainer[*]} train ${budget[*]} $* --out $store/$name" | tee -a "$out/commands.txt"
  "${trainer[@]}" train "${budget[@]}" "$@" --out "$store/$name" > "$out/$name.json.part" 2> "$out/$name.log" \
    && mv "$out/$name.json.part" "$out/$name.json"
}

# Stage A: the recipe, on PGD-AT with a linear head (its usual form).
run pgdat-linear-step     --method pgd-at --head linear
run pgdat-linear-onecycle --method pgd-at --head linear --schedule onecycle --learning-rate 0.1 --weight-decay 5e-4
run pgdat-linear-onecycle-ema --method pgd-at --head linear --schedule onecycle --learning-rate 0.1 --weight-decay 5e-4 --ema 0.995

# The best stage-A recipe (validation worst case of the gate's suite) for every later candidate.
best=$(python3 bench/search/best.py "$out" pgdat-linear-)
recipe=$(python3 bench/search/best.py "$out" pgdat-linear- --recipe)
partners=$(ls -d "$store/$best"/v* | head -n 1)
echo "stage A: best $best; recipe: $recipe; partners from $partners" | tee -a "$out/commands.txt"
read -r -a recipe_args <<< "$recipe"

# Stage B: the losses on that recipe, all scored against the same partners.
run pgdat-cosine          --method pgd-at --head cosine "${recipe_args[@]}" --partners "$partners"
run hardpair-b0           --method hardpair --beta 0 "${recipe_args[@]}" --partners "$partners"
run hardpair-b0.5         --method hardpair --beta 0.5 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1           --method hardpair --beta 1 "${recipe_args[@]}" --partners "$partners"
run hardpair-b2           --method hardpair --beta 2 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-attached  --method hardpair --beta 1 --detach-weights false "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-m0.4      --method hardpair --beta 1 --margin 0.4 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-s16       --method hardpair --beta 1 --scale 16 "${recipe_args[@]}" --partners "$partners"
run trades-cosine         --method trades --head cosine "${recipe_args[@]}" --partners "$partners"
run spat                  --method spat "${recipe_args[@]}" --partners "$partners"
run standard-linear       --method standard --head linear "${recipe_args[@]}" --partners "$partners"
python3 bench/search/best.py "$out" "" --table | tee "$out/table.md"
