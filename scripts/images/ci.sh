#!/usr/bin/env bash
# The container checks, as CI runs them after the tests (bash .ci/run), or alone:
#   bash scripts/images/ci.sh [RESULTS_DIR]
# Builds both cpu images once (scripts/build-images.sh), runs each as the chart does
# (check-images.sh), then the chart's Deployment as a pod (pod-test.sh). Installs podman, runc
# and debootstrap itself when missing. Writes one line per check to RESULTS_DIR/containers.results
# ("passed NAME" or "failed NAME: why"), which scripts/test-summary.sh counts with the tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
results=${1:-artifacts/test-results}
mkdir -p "$results"
out=$results/containers.results
: > "$out"
status=0
for check in build-images:scripts/build-images.sh check-images:scripts/images/check-images.sh pod-test:scripts/images/pod-test.sh; do
  name=${check%%:*}
  script=${check#*:}
  log=$results/containers-$name.log
  echo "containers: $name ($script)"
  started=$SECONDS
  if bash "$script" > "$log" 2>&1; then
    grep -E '^(images|pod): ' "$log" | grep -v 'translated:' || true
    echo "passed $name" >> "$out"
    echo "containers: $name passed in $((SECONDS - started)) s"
  else
    tail -n 30 "$log"
    reason=$(grep -m 1 -E 'FAILED|did not|Error|error' "$log" | cut -c1-300)
    echo "failed $name: ${reason:-see $log}" >> "$out"
    echo "containers: $name FAILED after $((SECONDS - started)) s (log: $log)"
    status=1
    # Later checks need what this one made.
    break
  fi
done
exit $status
