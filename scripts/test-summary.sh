#!/usr/bin/env bash
# Prints the name and first message line of every failed test, then, as its last line,
# "N passed, N failed" summed over the TRX files of every test project and the container
# checks' *.results files (scripts/images/ci.sh: "passed NAME" / "failed NAME: why" lines).
set -euo pipefail
results=${1:-artifacts/test-results}
passed=0 failed=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "${f:-0}" -gt 0 ]; then
    python3 - "$trx" <<'PY'
import sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for result in ET.parse(sys.argv[1]).getroot().iterfind(".//t:UnitTestResult", ns):
    if result.get("outcome") != "Failed":
        continue
    message = result.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns).strip()
    print(f"FAILED {result.get('testName')}: {message.splitlines()[0] if message else '(no message)'}")
PY
  fi
done
for file in "$results"/*.results; do
  while read -r outcome rest; do
    case $outcome in
      passed) passed=$((passed + 1)) ;;
      failed) failed=$((failed + 1)); echo "FAILED $rest" ;;
    esac
  done < "$file"
done
echo "$passed passed, $failed failed"
