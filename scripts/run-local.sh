#!/usr/bin/env bash
# The local stack: trainer sidecar and inference service as two processes on loopback,
# sharing one checkpoint store. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

INFERENCE_URL=${HARDPAIR_INFERENCE_URL:-http://127.0.0.1:50051}
TRAINER_URL=${HARDPAIR_TRAINER_URL:-http://127.0.0.1:50061}
REST_PORT=${HARDPAIR_REST_PORT:-8000}
STORE=${HARDPAIR_STORE:-$PWD/.local/checkpoints}
STATE=${HARDPAIR_TRAINER_STATE:-$PWD/.local/trainer}
TOKEN_FILE=${HARDPAIR_TOKEN_FILE:-$PWD/.local/control-token}
SIGNING_KEY_FILE=${HARDPAIR_SIGNING_KEY_FILE:-$PWD/.local/signing-key}
mkdir -p "$STORE" "$STATE" "$(dirname "$TOKEN_FILE")" "$(dirname "$SIGNING_KEY_FILE")"
# One bearer token for the sidecar's control API and the inference admin API, and one HMAC key
# with which the sidecar signs what it publishes and the service checks what it serves: each made
# once, kept private (mode 600), passed as a file so it never shows in the process list.
for secret in "$TOKEN_FILE" "$SIGNING_KEY_FILE"; do
  if [[ ! -s $secret ]]; then
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '/+=\n' >"$secret")
  fi
done

dotnet build HardPair.Services.sln -c Release -v quiet -nologo

# Serve at once: the service seeds an empty store with the shipped bootstrap checkpoint
# (models/README.md) and, like the sidecar, trusts that folder's checkpoints unsigned — as the
# images do. Anything else in the store must carry a valid signature.
BOOTSTRAP=$PWD/models/bootstrap

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

bin() { echo "$PWD/src/$1/bin/Release/net10.0"; }
dotnet "$(bin TrainerSidecar)/HardPair.TrainerSidecar.dll" \
  --urls "$TRAINER_URL" --Checkpoints:Path "$STORE" --contentRoot "$(bin TrainerSidecar)" \
  --Trainer:StatePath "$STATE" --Control:TokenFile "$TOKEN_FILE" \
  --Checkpoints:SigningKeyFile "$SIGNING_KEY_FILE" --Checkpoints:SeedFrom "$BOOTSTRAP" \
  --Notify:InferenceAddress "$INFERENCE_URL" --Notify:TokenFile "$TOKEN_FILE" \
  --Trainer:DutyCycle 0.5 --Torch:Threads 1 &
pids+=($!)
dotnet "$(bin InferenceService)/HardPair.InferenceService.dll" \
  --urls "$INFERENCE_URL" --Checkpoints:Path "$STORE" --contentRoot "$(bin InferenceService)" \
  --Admin:TokenFile "$TOKEN_FILE" --Sidecar:Address "$TRAINER_URL" --Sidecar:TokenFile "$TOKEN_FILE" \
  --Checkpoints:SigningKeyFile "$SIGNING_KEY_FILE" --Checkpoints:SeedFrom "$BOOTSTRAP" \
  --OpenInference:RestPort "$REST_PORT" --Torch:Threads 1 &
pids+=($!)

cat <<MSG
HardPair local stack
  inference service  $INFERENCE_URL   (gRPC, h2c: hardpair.v1.Classifier, hardpair.v1.Admin, inference.GRPCInferenceService, grpc.health.v1, reflection)
  Open Inference REST http://127.0.0.1:$REST_PORT/v2/models/classifier   (KServe v2 / Triton REST, model "classifier")
  trainer sidecar    $TRAINER_URL   (gRPC, h2c: hardpair.v1.Trainer, grpc.health.v1, reflection)
  control token      $TOKEN_FILE  (authorization: Bearer <token>)
  signing key        $SIGNING_KEY_FILE  (HMAC; only checkpoints signed with it, or the bootstrap's, are served)
  trainer state      $STATE
  checkpoint store   $STORE
Ctrl-C stops both.
MSG
wait -n "${pids[@]}"
