#!/bin/bash
# Run every libFuzzer target for a bounded time; any crash fails the run.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-30}
cd "$(dirname "$0")/../.."
status=0
pass=0
failn=0
for f in "$build"/tests/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="$build/corpus/$name"
	mkdir -p "$corpus"
	seeds=()
	[ -d "tests/fuzz/seeds/$name" ] && seeds=("tests/fuzz/seeds/$name")
	echo "fuzz: $name for ${seeds:+seeded }${seconds}s"
	if "$f" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/" \
		"$corpus" "${seeds[@]}" >"$build/$name.log" 2>&1; then
		grep -h 'stat::number_of_executed_units' "$build/$name.log" || true
		pass=$((pass + 1))
	else
		tail -40 "$build/$name.log"
		echo "fuzz: $name FAILED (log: $build/$name.log)"
		failn=$((failn + 1))
		status=1
	fi
done
echo "$pass passed, $failn failed"
exit $status
