# Sourced by the search's rounds (bench/search/run.sh, round2.sh): the budget every candidate
# trains on, the validation measurement, a private copy of the trainer, and run NAME ARGS, which
# trains one candidate unless its JSON is already there (so a round resumes where it stopped).
# Budget: 12 000 training images x 5 epochs x PGD-5 (step 0.025) at eps 0.1, seed 1. Measured on
# the 5 000 held-out validation images: clean on all, apgd-ce+apgd-t3 (the gate's suite) on the
# first 1 000; hard-pair share from APGD-CE's examples against a fixed partner map.
out=${SEARCH_OUT:-bench/results/search-20261201}
store=.local/search
mkdir -p "$out" "$store"
# A private copy per round: the build hard-links its outputs, and a rebuild during a long round
# would change the files a running trainer has loaded.
bin=.local/search-bin-$(basename "$0" .sh)
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
rm -rf "$bin" && cp -rL src/TrainerSidecar/bin/Release/net10.0 "$bin"
trainer=(dotnet "$bin/HardPair.TrainerSidecar.dll")
budget=(--train-subset 12000 --epochs 5 --attack-steps 5 --attack-step-size 0.025 --seed 1
  --split validation --attacks clean,apgd-ce,apgd-ce+apgd-t3 --test-subset 1000)

run() {
  local name=$1; shift
  if [[ -s $out/$name.json ]]; then return; fi
  echo "$(date -u +%FT%TZ) $name: ${trainer[*]} train ${budget[*]} $* --out $store/$name" | tee -a "$out/commands.txt"
  "${trainer[@]}" train "${budget[@]}" "$@" --out "$store/$name" > "$out/$name.json.part" 2> "$out/$name.log" \
    && mv "$out/$name.json.part" "$out/$name.json"
}
