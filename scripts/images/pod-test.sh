#!/usr/bin/env bash
# The chart's own Deployment as a real pod, used as an operator would (docs/IMAGES.md):
#   bash scripts/images/pod-test.sh        (builds the images first if they are missing)
# Renders helm/hardpair with the project's renderer for a local profile
# (scripts/images/pod-values.yaml), translates what podman 4.3 cannot take
# (scripts/images/translate.py prints each change) and runs it with `podman kube play`. Then,
# from client containers in the pod's network (the CLI): both containers' health services as the
# probes ask them, the token and signing key as mounted, the shared volume, Classify, a
# retraining through the admin port published and hot-swapped while a client classifies, and the
# trainer killed mid-run, restarted, resuming its run from the snapshot and publishing it once —
# the client never failing a call. Exits non-zero, saying what failed, at the first broken promise.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${TAG:-0.1.0}
source scripts/images/podman-env.sh
for image in inference trainer; do
  "${PODMAN[@]}" image exists "hardpair/$image:$TAG" || { bash scripts/build-images.sh; break; }
done

pod=hardpair-pod-0
secrets=(hardpair-token hardpair-signing)
work=$(mktemp -d)
load=$work/load
mkdir -p "$load"
chmod 777 "$load"
cleanup() {
  "${PODMAN[@]}" pod rm -f "$pod" >/dev/null 2>&1 || true
  "${PODMAN[@]}" secret rm "${secrets[@]}" >/dev/null 2>&1 || true
  "${PODMAN[@]}" volume rm -f "${secrets[@]}" >/dev/null 2>&1 || true
  $SUDO rm -rf "$work"
}
trap cleanup EXIT
cleanup
mkdir -p "$load" && chmod 777 "$load"
fail() {
  echo "pod: FAILED: $*" >&2
  for container in inference trainer; do
    echo "--- $container's log (last 40 lines)" >&2
    "${PODMAN[@]}" logs --tail 40 "$pod-$container" >&2 2>&1 || true
  done
  exit 1
}

# The chart, rendered and translated.
bash tests/helm-render/build.sh "$work/helm-render"
"$work/helm-render" -chart helm/hardpair -name hardpair -namespace default -f scripts/images/pod-values.yaml > "$work/rendered.yaml"
python3 scripts/images/translate.py "$work/rendered.yaml" "$work" | sed 's/^/pod: translated: /'
for name in "${secrets[@]}"; do
  "${PODMAN[@]}" secret create "$name" "$work/secret-$name.yaml" >/dev/null
done
"${PODMAN[@]}" kube play "$work/pod.yaml" >/dev/null 2>"$work/play.err" || { cat "$work/play.err" >&2; fail "podman kube play"; }
echo "pod: $pod is up: $("${PODMAN[@]}" ps --filter "pod=$pod" --format '{{.Names}}' | tr '\n' ' ')"

secret() { python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"][sys.argv[2]])' "$work/secret-$1.yaml" "$2"; }
token=$(secret hardpair-token token)
dotnet build src/Cli -c Release -warnaserror -v quiet -nologo >/dev/null
client=("${PODMAN[@]}" run --rm --pod "$pod" --user 10001:10001 --read-only
  -v "$PWD/src/Cli/bin/Release/net10.0:/cli:ro" -v /usr/share/datasets:/usr/share/datasets:ro
  -e HARDPAIR_TOKEN="$token" localhost/hardpair-base/aspnet:10.0 dotnet /cli/hardpair.dll)
admin=(--address http://127.0.0.1:50052)

# What the probes ask (podman runs no gRPC probe).
# (The trainer's readiness probe names no service: the server's overall health.)
for probe in "50051 --service liveness" "50051 --service hardpair.v1.Classifier" "50061 --service liveness" "50061"; do
  read -r port service <<<"$probe"
  read -r -a service <<<"$service"
  answer=$("${client[@]}" health --address "http://127.0.0.1:$port" "${service[@]}" --wait 120 2>&1) || fail "health on port $port: $answer"
  echo "pod: health: $answer"
done

# The Secrets as the chart mounts them, and the shared volume.
signing=$(secret hardpair-signing signing-key)
for container in inference trainer; do
  [[ $("${PODMAN[@]}" exec "$pod-$container" cat /secrets/token) == "$token" ]] || fail "$container: /secrets/token is not the Secret's token"
  [[ $("${PODMAN[@]}" exec "$pod-$container" cat /var/run/hardpair/signing/signing-key) == "$signing" ]] || fail "$container: the signing key is not the Secret's"
done
bootstrap=$(ls models/bootstrap)
"${PODMAN[@]}" exec "$pod-trainer" test -f "/data/checkpoints/$bootstrap/manifest.json" \
  || fail "the trainer does not see the checkpoint the inference container seeded into /data"
echo "pod: the token and signing key are mounted in both containers; the trainer sees $bootstrap on the shared volume"

classified=$("${client[@]}" classify --dataset-index 0) || fail "Classify"
grep -q "model $bootstrap" <<<"$classified" || fail "Classify did not answer with the shipped model: $classified"
echo "pod: Classify: $(head -n 1 <<<"$classified")"

# A client classifying throughout: one line per call, FAILED lines for failed calls.
"${PODMAN[@]}" run -d --name "$pod-load" --pod "$pod" --user 10001:10001 --read-only \
  -v "$PWD/src/Cli/bin/Release/net10.0:/cli:ro" -v /usr/share/datasets:/usr/share/datasets:ro -v "$load:/load" \
  --entrypoint bash localhost/hardpair-base/aspnet:10.0 -c '
    i=0
    while [ ! -e /load/stop ]; do
      if out=$(dotnet /cli/hardpair.dll classify --dataset-index $((i % 100)) 2>&1); then
        echo "$out" | grep -o "model v[^ ]*" >> /load/calls
      else
        echo "FAILED: $out" >> /load/calls
      fi
      i=$((i + 1))
    done' >/dev/null

# A retraining through the admin port: gate, signature, publish, hot swap.
retrain=$("${client[@]}" retrain "${admin[@]}" --reason "pod test" --watch) || fail "retrain --watch: $retrain"
first=$(grep -oE 'published v[^ ]+ \(accepted' <<<"$retrain" | awk '{print $2}') || fail "the run was not published: $(tail -n 3 <<<"$retrain")"
echo "pod: retrain: published $first through the admin port"
for _ in $(seq 60); do grep -q "model $first" "$load/calls" 2>/dev/null && break; sleep 1; done
grep -q "model $first" "$load/calls" || fail "the client never got an answer from $first"
echo "pod: the inference container swapped to $first under load"

# The trainer killed mid-run (past its snapshot at step 4: the profile snapshots every 2 steps):
# serving goes on; the restarted trainer resumes from the snapshot and publishes once.
queued=$("${client[@]}" retrain "${admin[@]}" --reason "pod test: killed mid-run") || fail "retrain: $queued"
run=$(grep -oE 'run [^ ]+' <<<"$queued" | awk '{print $2}')
for _ in $(seq 240); do
  progress=$("${client[@]}" status "${admin[@]}" 2>/dev/null) || true
  grep -qE "$run [A-Za-z]+ step ([5-9]|[1-9][0-9])/" <<<"$progress" && break
  sleep 0.5
done
"${PODMAN[@]}" kill "$pod-trainer" >/dev/null
echo "pod: killed the trainer during $run"
killed_at=$(wc -l < "$load/calls")
"${PODMAN[@]}" start "$pod-trainer" >/dev/null 2>&1 || true
"${client[@]}" health --address http://127.0.0.1:50061 --service liveness --wait 120 >/dev/null || fail "the trainer did not come back"
second=""
for _ in $(seq 240); do
  second=$("${client[@]}" status "${admin[@]}" 2>/dev/null | grep -oE 'published v[^;]+' | awk '{print $2}') || true
  [[ -n $second && $second != "$first" ]] && break
  sleep 1
done
[[ -n $second && $second != "$first" ]] || fail "the interrupted run $run was not published after the restart"
resumed=$("${PODMAN[@]}" logs "$pod-trainer" 2>&1 | grep -m 1 -oE "Run $run was interrupted by a restart at step [0-9]+") || true
[[ $resumed =~ step\ ([1-9][0-9]*)$ ]] || fail "the restarted trainer did not resume $run from a snapshot (${resumed:-no resume in its log})"
published=$("${PODMAN[@]}" exec "$pod-inference" sh -c "grep -l '\"runId\": \"$run\"' /data/checkpoints/*/manifest.json | wc -l")
[[ $published == 1 ]] || fail "$run was published $published times"
echo "pod: the restarted trainer resumed $run from its snapshot at step ${BASH_REMATCH[1]} and published it once, as $second"
for _ in $(seq 60); do grep -q "model $second" "$load/calls" && break; sleep 1; done

touch "$load/stop"
"${PODMAN[@]}" wait "$pod-load" >/dev/null 2>&1 || true
calls=$(wc -l < "$load/calls")
failed=$(grep -c '^FAILED' "$load/calls" || true)
(( calls > killed_at )) || fail "no call was answered after the trainer was killed"
(( failed == 0 )) || fail "$failed of $calls calls failed: $(grep -m 3 '^FAILED' "$load/calls")"
echo "pod: the client made $calls calls, 0 failed; models seen: $(sort "$load/calls" | uniq -c | awk '{print $3 " (" $1 ")"}' | tr '\n' ' ')"
echo "pod: passed"
