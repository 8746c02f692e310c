#!/usr/bin/env bash
# One attempt at the published anchor (issue 22: 88.5 % clean, 78.5 % autoattack at eps 0.1):
# trains with `train` on the whole 55 000-image training part, evaluates with the suite and keeps
# everything a later session needs in the attempt's results folder, which is committed:
#
#   bench/results/anchor-20261201/NAME.command    the exact command
#   NAME.log, NAME.json                            progress, then the JSON summary
#   NAME.snapshots/                                the latest training snapshot (weights, velocity,
#                                                  weight average, curve) while the run is unfinished
#   NAME.checkpoint/                               the published checkpoint, once finished
#
# A run of hours outlives a session's machine only through git: started again with the same NAME
# and arguments (after a fresh clone), it resumes from the committed snapshot. Commit the folder
# before a session ends (`git add bench/results/anchor-20261201/NAME.*`).
#
#   nohup nice -n 19 bash bench/anchor/attempt.sh attempt2 --method pgd-at --head linear \
#     --epochs 20 --attack-steps 10 --attack-step-size 0.025 --schedule onecycle \
#     --learning-rate 0.1 --weight-decay 5e-4 --ema 0.995 --seed 1 &
# ANCHOR_OUT and ANCHOR_ATTACKS replace the folder and the attacks (for trying the script quickly).
set -euo pipefail
cd "$(dirname "$0")/../.."

name=${1:?usage: attempt.sh NAME TRAIN-ARGS...}
shift
out=${ANCHOR_OUT:-bench/results/anchor-20261201}
mkdir -p "$out"
if [[ -s $out/$name.json ]]; then
  echo "anchor: $out/$name.json exists; nothing to do" >&2
  exit 0
fi

dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
# A private copy: a rebuild during the run must not change the files the trainer has loaded.
bin=$(mktemp -d)
store=$(mktemp -d)
trap 'rm -rf "$bin" "$store"' EXIT
cp -rL src/TrainerSidecar/bin/Release/net10.0/. "$bin"

# 6,3,4,0,2,7,0,5,2,7: the method table's fixed partner map (docs/RESULTS.md).
cmd=(dotnet "$bin/HardPair.TrainerSidecar.dll" train --train-subset 55000 "$@"
  --attacks "${ANCHOR_ATTACKS:-clean,apgd-ce,autoattack}" --test-subset 1000 --partners 6,3,4,0,2,7,0,5,2,7
  --snapshots "$out/$name.snapshots" --snapshot-every 100 --out "$store")
echo "${cmd[*]}" | sed "s#$bin#<build>#; s#$store#<store>#" > "$out/$name.command"
"${cmd[@]}" > "$out/$name.json.part" 2>> "$out/$name.log"

version=$(ls "$store" | grep '^v' | head -n 1)
rm -rf "$out/$name.checkpoint"
cp -r "$store/$version" "$out/$name.checkpoint"
mv "$out/$name.json.part" "$out/$name.json"
grep -v '^step' "$out/$name.log" | tail -n 8
