#!/usr/bin/env bash
# Issue 21's search, second round (after bench/search/run.sh, same budget, same validation split,
# same fixed partners): PGD-AT's own share against those partners, and hardpair's two pair-aware
# options, the partners from the run's own adversarial confusion: a margin on each example's
# hard-partner logit (--partner-margin) and a share of each batch attacked toward its partner
# (--partner-attack-share); and standard training on the cosine head. Run by hand in the background, nothing else heavy beside it:
#   nohup nice -n 19 bash bench/search/round2.sh > bench/results/search-20261201/round2.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/search/common.sh
best=$(python3 bench/search/best.py "$out" pgdat-linear-)
recipe=$(python3 bench/search/best.py "$out" pgdat-linear- --recipe)
partners=$(ls -d "$store/$best"/v* | head -n 1)
read -r -a recipe_args <<< "$recipe"

# The PGD-AT baseline's share against its own partners (the fixed map), on the same examples.
baseline=$best-partners
if [[ ! -s $out/$baseline.eval.json ]]; then
  echo "$(date -u +%FT%TZ) $baseline: evaluate $partners" | tee -a "$out/commands.txt"
  "${trainer[@]}" evaluate --checkpoint "$partners" --split validation --attacks clean,apgd-ce,apgd-ce+apgd-t3 \
    --test-subset 1000 --partners "$partners" --json > "$out/$baseline.eval.part" 2> "$out/$baseline.log" \
    && mv "$out/$baseline.eval.part" "$out/$baseline.eval.json"
fi

run hardpair-b1-pm0.1 --method hardpair --beta 1 --partner-margin 0.1 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-pm0.2 --method hardpair --beta 1 --partner-margin 0.2 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-pm0.4 --method hardpair --beta 1 --partner-margin 0.4 "${recipe_args[@]}" --partners "$partners"
run hardpair-b0.5-pm0.2 --method hardpair --beta 0.5 --partner-margin 0.2 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-pa0.3 --method hardpair --beta 1 --partner-attack-share 0.3 "${recipe_args[@]}" --partners "$partners"
run hardpair-b1-pm0.2-pa0.3 --method hardpair --beta 1 --partner-margin 0.2 --partner-attack-share 0.3 "${recipe_args[@]}" --partners "$partners"
# Standard training's fair form: the cosine head beside round 1's linear one.
run standard-cosine --method standard --head cosine "${recipe_args[@]}" --partners "$partners"
python3 bench/search/best.py "$out" "" --table | tee "$out/table.md"
