#!/usr/bin/env bash
# Issue 21's search, on the validation split only (never the test set): which training recipe
# and which hard-pair loss are best at a small budget. Run by hand in the background, nothing
# else heavy beside it (~4-5 minutes per candidate on 2 cores):
#   nohup nice -n 19 bash bench/search/run.sh > bench/results/search-20261201/run.log 2>&1 &
# The budget and the measurement: bench/search/common.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/search/common.sh

# Stage A: the recipe, on PGD-AT with a linear head (its usual form).
# (Each names its whole recipe: train's defaults are now the recipe this stage chose.)
run pgdat-linear-step     --method pgd-at --head linear --schedule step --learning-rate 0.05 --weight-decay 2e-4 --ema 0
run pgdat-linear-onecycle --method pgd-at --head linear --schedule onecycle --learning-rate 0.1 --weight-decay 5e-4 --ema 0
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
