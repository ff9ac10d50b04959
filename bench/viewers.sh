#!/bin/bash
# A paced offline make doc of the 12-section PRD, with N SSE viewers of its live page open.
n=$1
R=$(mktemp -d /tmp/vb-runs-XXXX)
root=$(cd "$(dirname "$0")/.." && pwd)
B=$root/.build/release
cd "$root"
run=$($B/sheaf-run where --plan pipelines/prd/plan.json --runs $R)
if [ "$n" -gt 0 ]; then
  $B/sheaf-serve --run "$run" --port 0 > $R/serve.out 2>&1 &
  while ! grep -q token $R/serve.out 2>/dev/null; do sleep 0.05; done
  url=$(grep -o 'http://[^/]*' $R/serve.out | head -1)
  for i in $(seq "$n"); do curl -sN "$url/events?from=0" > /dev/null & done
  sleep 0.3
fi
make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=$B SHEAF_TOOLS= RUNS=$R doc PLAN=pipelines/prd/plan.json PROVIDER=offline J=4 CALL_FLAGS="--no-cache --offline-delay 0.2 --offline-tps 400" > $R/make.log 2>&1
status=$?
kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
rm -rf "$R"
exit $status
