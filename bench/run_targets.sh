#!/usr/bin/env bash
# Runs alloy-bench against a separate alloy-mock process for every target in bench/README.md and prints
# one JSON report per line. Usage: bench/run_targets.sh BUILD_DIR
set -uo pipefail
build="${1:-build-rel}"
bench="$build/bench/alloy-bench"
mock="$build/alloy-mock"

start_mock() {  # start_mock [alloy-mock options...]; sets MOCK_PID and URL
    local out
    out=$(mktemp)
    "$mock" --port 0 --max-recorded 0 "$@" >"$out" &
    MOCK_PID=$!
    for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
    URL="$(awk '{print $4}' "$out")/v1"
    rm -f "$out"
}
stop_mock() { kill "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null || true; }
run() {  # run LABEL alloy-bench options...
    local label=$1
    shift
    echo "# $label: alloy-bench $*" >&2
    printf '{"label":"%s","report":' "$label"
    local status=0
    "$bench" --url "$URL" --model mock-model --mock-pid "$MOCK_PID" --json --no-progress "$@" | tr -d '\n' ||
        status=$?
    printf ',"exit_status":%d}\n' "$status"
}

# The floor: a bare keep-alive HTTP round trip with wrk (when installed), wrk's own CPU per request.
wrk_floor() {
    command -v wrk >/dev/null || { echo '{"label":"wrk_floor","skipped":"wrk not installed"}'; return; }
    local out times
    out=$(mktemp)
    times=$( { /usr/bin/time -f "%U %S" wrk -t1 -c64 -d5s -s "$(dirname "$0")/wrk_post.lua" \
        "$URL/chat/completions" >"$out"; } 2>&1 | tail -1)
    awk -v t="$times" '/requests in/ {n=$1} /Requests\/sec/ {rps=$2}
        END {split(t, c, " "); printf "{\"label\":\"wrk_floor\",\"requests\":%d,\"requests_per_s\":%s,\"wrk_cpu_us_per_request\":%.2f}\n", n, rps, (c[1]+c[2])*1e6/n}' "$out"
    rm -f "$out"
}

start_mock
wrk_floor
run typed_c64       --scenario typed --concurrency 64 --commands 20000 --warmup 1000
run tool_c64        --scenario tool  --concurrency 64 --commands 20000 --warmup 1000
run tool_c64_2thr   --scenario tool  --concurrency 64 --commands 20000 --warmup 1000 --threads 2
run text_c64        --scenario text  --concurrency 64 --commands 20000 --warmup 1000
run stream_c64      --scenario stream --concurrency 64 --commands 10000 --warmup 500
run tool_open_2000  --scenario tool  --rate 2000 --commands 10000 --warmup 500
run startup_1cmd    --scenario typed --concurrency 1 --commands 1 --warmup 0
stop_mock

start_mock --delay-ms 1000
run inflight_5000   --scenario typed --concurrency 5000 --commands 5000 --warmup 0
stop_mock

start_mock --delay-ms 1000
run inflight_50000  --scenario typed --concurrency 50000 --commands 50000 --warmup 0 --max-connections 8000
stop_mock
