#!/usr/bin/env bash
# Packs what a GPU machine without .NET needs into .device/ (git-ignored, ~50 MiB): the .NET
# runtime, the built services and benchmarks without libtorch (the machine's own PyTorch provides
# libtorch and CUDA), and Fashion-MNIST (the test split and the first 8 192 training images).
# Then, on that machine, from the repository root: bash bench/device/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.device
cd "$root"
dotnet build -c Release HardPair.Services.sln -v q -nologo >/dev/null
rm -rf "$out" && mkdir -p "$out/data"

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
tar -C "$dotnet_root" -cf - dotnet host shared/Microsoft.NETCore.App shared/Microsoft.AspNetCore.App \
  | xz -T0 -6 >"$out/dotnet.tar.xz"

# Hard-linked copy-local outputs are stored once; other platforms' natives and libtorch stay
# behind (run.sh links the host's libtorch); the sidecar is not needed there.
tar -C "$root" --exclude='*/runtimes/osx*' --exclude='*/runtimes/win*' --exclude='*/runtimes/linux-arm*' \
  --exclude='*/runtimes/linux-musl*' --exclude='*/runtimes/*/native/libtorch*' \
  --exclude='*/runtimes/*/native/libc10*' --exclude='*/runtimes/*/native/libgomp*' \
  --exclude='*/runtimes/*/native/lib*backend*' --exclude='*/runtimes/*/native/libshm*' \
  --exclude='*/runtimes/*/native/libaoti*' \
  -cf - src/InferenceService/bin/Release \
  bench/Serving/bin/Release bench/Training/bin/Release | xz -T0 -6 >"$out/app.tar.xz"

data=${HARDPAIR_DATA:-/usr/share/datasets/fashion-mnist}
cp "$data"/t10k-*-ubyte.gz "$out/data/"
python3 - "$data" "$out/data" <<'PY'
import gzip, sys
src, dst = sys.argv[1], sys.argv[2]
count = 8192
for stem, item in (("train-images-idx3-ubyte", 28 * 28), ("train-labels-idx1-ubyte", 1)):
    raw = gzip.open(f"{src}/{stem}.gz").read()
    dims = raw[3]
    header = bytearray(raw[:4 + 4 * dims])
    header[4:8] = count.to_bytes(4, "big")
    body = raw[4 + 4 * dims:4 + 4 * dims + count * item]
    with gzip.open(f"{dst}/{stem}.gz", "wb") as f:
        f.write(bytes(header) + body)
PY
du -sh "$out"/* | sed "s|$root/||"
