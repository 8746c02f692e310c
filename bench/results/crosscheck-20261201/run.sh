#!/usr/bin/env bash
# APGD-T on the shipped model's first 500 test images: the C# attack and the independent PyTorch one.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=bench/results/crosscheck-20261201
shipped=models/bootstrap/v20261125T202913066Z-a9cd1db9
dotnet build src/TrainerSidecar -c Release -warnaserror -v quiet -nologo >/dev/null
rm -rf .local/eval-bin && mkdir -p .local && cp -rL src/TrainerSidecar/bin/Release/net10.0 .local/eval-bin
for seed in 0 1; do
  /usr/bin/python3 bench/crosscheck/apgd_t.py $shipped --examples 500 --seed $seed > $out/python-seed$seed.json
  dotnet .local/eval-bin/HardPair.TrainerSidecar.dll evaluate --checkpoint $shipped --attacks clean,apgd-t \
    --test-subset 500 --clean-subset 500 --seed $seed --json > $out/csharp-seed$seed.json 2> $out/csharp-seed$seed.log
done
/usr/bin/python3 bench/crosscheck/compare.py $out > $out/comparison.md
