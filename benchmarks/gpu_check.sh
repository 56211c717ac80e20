#!/usr/bin/env bash
# What a maintainer with a GPU runs before a release, in one go (a few minutes on one H200;
# each step has a time limit, 8 minutes in all): `sokuji doctor`, benchmarks/complete_latency.py,
# benchmarks/kv_cache.py (the editing trace, then the fast trace), the end-to-end tests. Then
# one summary: each step's exit status (139 = a crash at exit, SIGSEGV) and its key figures.
#
#   make cuda && benchmarks/gpu_check.sh [LOG_DIR]
#
# Fails (exit 1) when a step fails, the build cannot offload to a GPU, or the fast trace
# evaluates more than 1.2x the physical minimum of prompt tokens per keystroke.
# KV_FILES, TESTS, TIME_SCALE: fewer files, other tests, longer limits (to try it on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOGS=${1:-$(mktemp -d "${TMPDIR:-/tmp}/sokuji-gpu-check.XXXXXX")}
KV_FILES=${KV_FILES:-12}
TIME_SCALE=${TIME_SCALE:-1}
TESTS=${TESTS:-tests/e2e/test_server_e2e.py tests/robustness/test_exit.py tests/e2e/test_kv_cache.py tests/e2e/test_kv_server.py tests/robustness/test_faults.py tests/e2e/test_fixes_e2e.py tests/e2e/test_context_e2e.py tests/e2e/test_postprocess_e2e.py}
mkdir -p "$LOGS"
SUMMARY=()
FAILED=0

# step NAME LIMIT_S COMMAND...: runs it, its output in LOGS/NAME.log; sets RC
step() {
  local name=$1 limit=$2 start=$SECONDS
  shift 2
  echo "== $name ($(date +%T)): $*"
  limit=$((limit * TIME_SCALE))
  timeout "$limit" "$@" >"$LOGS/$name.log" 2>&1
  RC=$?
  tail -n 4 "$LOGS/$name.log"
  local verdict=ok
  [ "$RC" -ne 0 ] && verdict="FAIL (exit status $RC$([ "$RC" -eq 124 ] && echo ", over ${limit} s"))" && FAILED=1
  SUMMARY+=("$(printf '%-16s %-28s %4d s' "$name" "$verdict" $((SECONDS - start)))")
}

# note TEXT: a key figure under the last step (nothing when the step printed none)
note() { [ -n "$1" ] && SUMMARY+=("$(printf '%22s %s' '' "$1")"); }

step doctor 20 "$PY" -m lsp_server doctor
note "$(grep -E '^(GPU offload|device):' "$LOGS/doctor.log" | paste -sd ';' -)"
if ! grep -q '^GPU offload: available' "$LOGS/doctor.log"; then
  note "FAIL: this llama.cpp build cannot offload to a GPU (make cuda)"
  FAILED=1
fi

step complete_latency 60 "$PY" benchmarks/complete_latency.py --repeat 3
note "$(grep -E '^model ' "$LOGS/complete_latency.log" | tr -s ' ')"
note "$(grep -E '^gemma' "$LOGS/complete_latency.log" | tr -s ' ')"

step kv_cache 100 "$PY" benchmarks/kv_cache.py --files "$KV_FILES" --plot "$LOGS/kv_cache.png"
for config in off shared perFile; do
  note "$(awk -F'|' -v c="$config" '$1 ~ "^ *"c" *$" {printf "%s: eval/req typing %s, physical minimum %s, p50 %s s, p50 return %s s, peak RSS %s MB", c, $3+0, $4+0, $8+0, $11+0, $14+0}' "$LOGS/kv_cache.log")"
done

step kv_cache_fast 60 "$PY" benchmarks/kv_cache.py --fast --configs perFile,shared
ratio=$(awk -F'|' '$1 ~ /^ *perFile *$/ {print $6+0}' "$LOGS/kv_cache_fast.log")
for config in perFile shared; do
  note "$(awk -F'|' -v c="$config" '$1 ~ "^ *"c" *$" {printf "%s: eval/req typing %s, physical minimum %s, ratio %sx (target <= 1.2x)", c, $4+0, $5+0, $6+0}' "$LOGS/kv_cache_fast.log")"
done
if [ -z "$ratio" ] || awk -v r="$ratio" 'BEGIN {exit !(r > 1.2)}'; then
  note "FAIL: the prefix moved while typing"
  FAILED=1
fi

# shellcheck disable=SC2086  # TESTS is a list of paths
step e2e_tests 240 "$PY" -m pytest -q -p no:cacheprovider $TESTS
note "$(grep -E '(passed|failed|error)' "$LOGS/e2e_tests.log" | tail -n 1)"

echo
echo "== sokuji GPU check, $(date '+%F %T'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), logs in $LOGS"
printf '%s\n' "${SUMMARY[@]}"
[ "$FAILED" -eq 0 ] && echo "all steps passed" || echo "SOME STEPS FAILED"
exit "$FAILED"
