#!/usr/bin/env bash
# Runs every test: the cmocka unit tests, then the integration tests one at a time (they
# share one kernel). Its last line is the summary: "N passed, N failed".
set -u
BUILD=${1:-build}
export BUILD SALVE_BUILD=$BUILD
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
failures=()

for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$("$t" 2>&1); rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures+=("$name")
		printf '%s\n' "$out"
	fi
	printf '  %-34s %d passed, %d failed\n' "$name" "$p" "$f"
done

for t in tests/integration/test_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	start=$(date +%s)
	out=$(bash "$t" 2>&1); rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) passed=$((passed + 1)); verdict=PASS ;;
	77) skipped=$((skipped + 1)); verdict=SKIP ;;
	*) failed=$((failed + 1)); verdict=FAIL; failures+=("$name") ;;
	esac
	if [ "$verdict" != PASS ] || [ "${VERBOSE:-0}" = 1 ]; then printf '%s\n' "$out" | sed 's/^/    /'; fi
	printf '  %-34s %s (%ss)\n' "$name" "$verdict" "$secs"
done

[ "${#failures[@]}" -eq 0 ] || echo "failed: ${failures[*]}"
[ "$skipped" -eq 0 ] || echo "skipped: $skipped (run as root with BPF to run them)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
