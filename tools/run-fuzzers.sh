#!/usr/bin/env bash
# tools/run-fuzzers.sh: the long fuzzing run of the parsers of untrusted input
# (docs/fuzzing.md). Builds the libFuzzer targets of tests/fuzz alone (cmake -S tests/fuzz:
# the library with flowtmpl::io only, no tests or examples) in build/fuzz with clang++-19
# -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all, then runs each target
# for a fixed number of inputs from its seeds (tests/fuzz/corpus/<target>/, only read)
# and prints per target: executions, wall time, exec/s, coverage (cov: edges, ft:
# features), the size of the corpus at the end, and its findings (crash-, leak-,
# timeout-, oom- files).
#
# usage: tools/run-fuzzers.sh [-n RUNS] [-j JOBS] [--no-build] [--resume] [TARGET...]
#   -n RUNS     inputs per target (per job with -j), default 10000000
#   -j JOBS     libFuzzer -jobs=JOBS -workers=JOBS (processes sharing the corpus), default 1
#   --no-build  run what build/fuzz holds (e.g. two runs of this script at once, after one
#               build)
#   --resume    go on from the corpus and findings of the target's previous run (a run
#               stopped part way), keeping its log as fuzzer.log.<n>; the figures printed
#               are this run's own, but for findings: every file in artifacts/, the
#               earlier run's included
#   TARGET      safetensors_load, zuko_import, idx, checkpoint_load (default: all four)
# Each run's files are in build/fuzz/runs/<target>/: corpus/ (the inputs it added),
# artifacts/ (findings), fuzzer.log (or fuzz-<job>.log with -j). The exit status is 1 if
# any target found something.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

runs=10000000
jobs=1
build=1
resume=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs="$2"; shift 2 ;;
    -j) jobs="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --resume) resume=1; shift ;;
    -h|--help) sed -n '2,23p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "run-fuzzers.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(safetensors_load zuko_import idx checkpoint_load)
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "run-fuzzers.sh: no target $t (no tests/fuzz/corpus/$t)" >&2; exit 2; }
done

dir=build/fuzz
if [ "$build" = 1 ]; then
  cmake -S tests/fuzz -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_FLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" >/dev/null
  cmake --build "$dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

echo "clang: $(clang++-19 --version | head -n 1)"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
echo "runs per target: $runs, jobs: $jobs, date: $(date -u +%Y-%m-%dT%H:%MZ)"
found=0
summary=()
for t in "${targets[@]}"; do
  work="$root/$dir/runs/$t"
  if [ "$resume" = 1 ] && [ -d "$work/corpus" ]; then
    n=1
    for old in "$work"/fuzzer.log "$work"/fuzz-*.log; do
      [ -f "$old" ] || continue
      while [ -e "$old.$n" ]; do n=$((n + 1)); done
      mv "$old" "$old.$n"
    done
    echo "$t: resuming from $(find "$work/corpus" -type f | wc -l) inputs of the previous run"
  else
    [ "$resume" = 1 ] && echo "$t: no earlier run in $work to resume: starting from the seeds"
    rm -rf "$work"
  fi
  mkdir -p "$work/corpus" "$work/artifacts"
  args=(-runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/"
        "$work/corpus" "$root/tests/fuzz/corpus/$t")
  [ "$jobs" -gt 1 ] && args=(-jobs="$jobs" -workers="$jobs" "${args[@]}")
  start=$(date +%s.%N)
  status=0
  (cd "$work" && "$root/$dir/fuzz_$t" "${args[@]}" >"$work/fuzzer.log" 2>&1) || status=$?
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  logs=("$work"/fuzzer.log)
  [ "$jobs" -gt 1 ] && logs=("$work"/fuzz-*.log)
  executions=$(cat "${logs[@]}" | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{ s += $1 } END { print s + 0 }')
  # the highest coverage any job reached, from libFuzzer's status lines ("cov: N ft: M")
  cov=$(cat "${logs[@]}" | grep -o 'cov: [0-9]*' | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
  ft=$(cat "${logs[@]}" | grep -o 'ft: [0-9]*' | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
  # the corpus at the end (libFuzzer's count; the folder also keeps inputs it later reduced)
  corpus=$(cat "${logs[@]}" | grep -o 'corp: [0-9]*' | tail -n 1 | awk '{ print $2 + 0 }')
  findings=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  rate=$(echo "$executions / $seconds" | bc)
  line=$(printf '%-17s %12s executions %9.0f s %8s exec/s  cov %5s  ft %6s  corpus %6s  findings %s (exit %s)' \
         "$t" "$executions" "$seconds" "$rate" "$cov" "$ft" "$corpus" "$findings" "$status")
  echo "$line"
  summary+=("$line")
  if [ "$status" != 0 ] || [ "$findings" != 0 ]; then
    found=1
    echo "  findings in $work/artifacts/; the report: tail -n 60 ${logs[*]}"
    find "$work/artifacts" -type f | sed 's/^/  /'
  fi
done
echo "---- summary"
printf '%s\n' "${summary[@]}"
exit "$found"
