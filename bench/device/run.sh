#!/usr/bin/env bash
# On a GPU machine with PyTorch but no .NET, after bench/device/pack.sh here: unpacks .device/,
# links the host's libtorch (CUDA build) under TorchSharp's binding, and runs the benchmarks —
# serving on CPU (service and limit pinned to half the CPUs, load generator on the other half),
# training on CUDA against PyTorch, serving on CUDA. Results under ${OUT:-bench/results/device-*}.
# CPU_EXECUTORS / CUDA_EXECUTORS ("1 2"; empty: none) pick the serving runs, SERVING_ROUNDS (3) their
# interleaved service/limit rounds, CUDA_STREAM_EXECUTORS (empty) adds CUDA runs whose callers
# keep one ClassifyStream open instead of unary calls; TRAINING=0 skips training, ROUNDS=N gives
# it N rounds.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/bench/results/device-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
exec > >(tee -a "$out/run.log") 2>&1

set -e # the setup must succeed; the benchmarks below run on after a failure
work=${TMPDIR:-/tmp}/hardpair-device
mkdir -p "$work/dotnet"
xz -dc .device/dotnet.tar.xz | tar -C "$work/dotnet" -xf -
xz -dc .device/app.tar.xz | tar -C "$root" -xf -
data=/usr/share/datasets/fashion-mnist
[ -e "$data/train-images-idx3-ubyte.gz" ] || { mkdir -p "$data" && cp .device/data/*.gz "$data/"; }
export DOTNET_ROOT=$work/dotnet PATH=$work/dotnet:$PATH DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

python=$(command -v python3)
torch_lib=${TORCH_LIB:-$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
site=$(dirname "$(dirname "$torch_lib")")
cuda_libs=$({ find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null || true; } | sort -u | paste -sd:)
export LD_LIBRARY_PATH=$torch_lib${cuda_libs:+:$cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for native in src/InferenceService/bin/Release/net10.0/runtimes/linux-x64/native \
  bench/Serving/bin/Release/net10.0/runtimes/linux-x64/native bench/Training/bin/Release/net10.0/runtimes/linux-x64/native; do
  for lib in libc10.so libc10_cuda.so libtorch_cpu.so libtorch_cuda.so libtorch.so; do
    [ -e "$torch_lib/$lib" ] && ln -sf "$torch_lib/$lib" "$native/$lib"
  done
done

set +e
echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
nproc; "$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))'
dotnet --list-runtimes
device=${DEVICE:-cuda}
# GPU memory per process (dotnet = ours, python3 = the PyTorch reference), sampled every 200 ms
# for the whole run; the peaks are summarised at the end.
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-compute-apps=timestamp,pid,process_name,used_memory --format=csv,noheader,nounits -lms 200 > "$out/gpu-memory.csv" 2>&1 &
  sampler=$!
  trap 'kill $sampler 2>/dev/null' EXIT
fi
cpus=$(nproc); half=$((cpus / 2))
[ "$half" -ge 1 ] || { echo "run.sh needs at least 2 CPUs (one for the service, one for the load)"; exit 2; }
service_cpus="0-$((half - 1))"; client_cpus="$half-$((cpus - 1))"
serving=bench/Serving/bin/Release/net10.0/HardPair.Bench.Serving.dll

echo "== smoke: TorchSharp on the host's libtorch, $device"
if ! echo "64 0.5" | timeout 120 dotnet "$serving" --raw-worker --store models/bootstrap --device "$device"; then
  echo "TorchSharp did not run on this libtorch; PyTorch reference numbers only"
  for method in standard pgd-at trades spat; do
    timeout 120 "$python" bench/Training/reference.py --method "$method" --device "$device" --threads 2
  done
  exit 1
fi

# Executors N share the service's Torch threads; with N > 1 a batch holds at most 64/N images so
# that, at concurrency 64, one batch gathers while the others compute.
serve() { # serve DEVICE EXECUTORS [CALL]
  local max_batch=$((64 / $2)) call=${3:-unary}
  echo "== serving, $1, $2 executor(s), batches of at most $max_batch, $call calls: service and limit on CPUs $service_cpus, load generator on $client_cpus"
  timeout 400 taskset -c "$client_cpus" dotnet "$serving" --seconds 4 --device "$1" --service-cpus "$service_cpus" \
    --executors "$2" --max-batch "$max_batch" --call "$call" --rounds "${SERVING_ROUNDS:-3}" \
    --out "$out/serving-$1-e$2$([ "$call" = unary ] || echo "-$call")"
}
for executors in ${CPU_EXECUTORS-1 2}; do serve cpu "$executors"; done

if [ "${TRAINING:-1}" = 1 ]; then
echo "== training, CUDA, against PyTorch $("$python" -c 'import torch; print(torch.__version__)')"
timeout 240 dotnet bench/Training/bin/Release/net10.0/HardPair.Bench.Training.dll --device "$device" --rounds "${ROUNDS:-1}" --python "$python" --out "$out/training-cuda"
echo "== the SGD step alone, CUDA: optim.SGD against FlatSgd"
timeout 60 dotnet bench/Training/bin/Release/net10.0/HardPair.Bench.Training.dll --optimizer-step --device "$device" --out "$out/optimizer-step-cuda"
fi

for executors in ${CUDA_EXECUTORS-1 2}; do serve "$device" "$executors"; done
for executors in ${CUDA_STREAM_EXECUTORS-}; do serve "$device" "$executors" stream; done
if [ -n "${sampler:-}" ]; then
  kill "$sampler" 2>/dev/null
  echo "== peak GPU memory per process, in the order they started (MiB, nvidia-smi every 200 ms)"
  awk -F', *' '$4 ~ /^[0-9]+$/ { key = $3 " pid " $2; if (!(key in peak)) { order[++n] = key; first[key] = $1 } if ($4 > peak[key]) peak[key] = $4 }
    END { for (i = 1; i <= n; i++) print "  " first[order[i]] "  " order[i] ": " peak[order[i]] }' "$out/gpu-memory.csv"
fi
echo "== done"
