#!/usr/bin/env bash
# policies/salve-policy.schema.json says what `salvectl validate` accepts: a corpus of valid
# and invalid policies goes through both, and they must agree on each. Every shipped
# policy passes both. No root needed.
#
# Beyond a schema, and so left out of the corpus (the unit tests cover them): rules naming
# probes that do not exist, whose kind does not fit a filter or a percentile, or that do
# not report a filter's signal or errno; ids unique
# across files; "when" and "ret" predicates and whether their values fit the probe's type;
# C++ type names; bounds on durations and on sizes written as strings (exec timeout at
# most 10m, windows, cooldown and verify at most 24h, thresholds at most 1h, stall "every"
# at least 1ms, baselines at least 1s, overflow, fractions of a nanosecond: the unit test
# test_policy_bounds has them); "all"/"any" nested more than 8 deep; comm names longer
# than 15 bytes but not 15 characters; NUL in strings; an override's "when" predicate
# past "argN" (the schema checks its start), and a redirect to its own symbol without a
# fix library. Integer bounds are in both, and in the corpus at each edge.
. "$(dirname "$0")/lib.sh"

CTL=$BUILD/salvectl
SCHEMA=$ROOT/policies/salve-policy.schema.json
[ -x "$CTL" ] || fail "no $CTL: run make"
python3 -c 'import jsonschema' 2>/dev/null || skip "needs python3-jsonschema (make deps)"

mkdir -p "$WORK/valid" "$WORK/invalid"
n=0
# valid NAME JSON / invalid NAME JSON: one corpus case, in the policy around $PROBES.
PROBES='{"id": "crashes", "kind": "signal"}, {"id": "slow", "kind": "latency", "binary": "/b", "symbol": "f", "threshold": "1ms"}'
policy() { printf '{"salve": 1, "name": "t", "probes": [%s]%s}\n' "$PROBES" "${1:+, $1}"; }
rule() { policy "\"rules\": [{\"id\": \"r\", $1}]"; }
valid() { n=$((n + 1)); printf '%s\n' "$2" > "$WORK/valid/$1.json"; }
invalid() { n=$((n + 1)); printf '%s\n' "$2" > "$WORK/invalid/$1.json"; }
LOG='"actions": [{"do": "log"}]'
C='{"probe": "crashes", "count": 1, "within": "1s"}'

valid minimal '{"salve": 1, "name": "m", "probes": [{"id": "a", "kind": "oom"}]}'
valid dry-run "$(policy '"dry_run": true')"
valid scope-full "$(policy '"scope": {"binaries": ["/a", {"path": "/b", "build_id": "abcd"}], "cgroups": ["/x.slice"], "units": ["app.service", "getty@tty1.service"], "comms": ["app"], "uids": [0, 4294967295], "exclude": {"comms": ["sh"], "uids": [1]}}')"
PROBES_SAVED=$PROBES
PROBES='{"id": "a", "kind": "exit", "nonzero": true}, {"id": "b", "kind": "exec"}, {"id": "c", "kind": "return", "binary": "/b", "offset": "0x4f0", "type": "long", "when": "< 0", "stack": true, "rate": {"per_second": 5, "burst": 10}}, {"id": "d", "kind": "stall", "binary": "/b", "symbol": "tick@@V1", "every": "1s"}, {"id": "e", "kind": "exception", "types": ["std::bad_alloc"]}, {"id": "f", "kind": "abort"}, {"id": "g", "kind": "syscall", "syscalls": ["openat"], "errnos": ["ENOENT"]}, {"id": "h", "kind": "latency", "binary": "libc.so.6", "symbol": "read", "baseline": {"percentile": 99.9, "factor": 3, "window": "5m"}}, {"id": "i", "kind": "signal", "signals": ["SIGSEGV"], "handled": true}'
valid every-kind "$(policy)"
PROBES=$PROBES_SAVED
valid rule-count "$(rule "\"when\": $C, $LOG")"
valid rule-every-field "$(rule "\"by\": \"host\", \"when\": {\"any\": [$C, {\"probe\": \"slow\", \"p99\": \"50ms\", \"within\": \"30s\"}, {\"all\": [{\"probe\": \"slow\", \"p50\": {\"baseline\": \"10m\", \"factor\": 1.5}, \"within\": \"1m\"}]}]}, \"cooldown\": \"0s\", \"budget\": 3, \"dry_run\": true, \"verify\": \"1m\", \"actions\": [{\"do\": \"log\", \"message\": \"m\"}, {\"do\": \"signal\", \"signal\": \"SIGHUP\"}, {\"do\": \"exec\", \"command\": [\"/bin/true\", \"\"], \"timeout\": \"10m\", \"output\": \"64KiB\"}]")"
# Each integer bound, just inside (valid) and just outside (invalid); durations at their
# largest, which both take.
valid rule-budget-max "$(rule "\"budget\": 65536, \"when\": $C, $LOG")"
invalid rule-budget-over "$(rule "\"budget\": 65537, \"when\": $C, $LOG")"
valid rule-count-max "$(rule '"when": {"probe": "crashes", "count": 4294967295, "within": "24h"}, '"$LOG")"
invalid rule-count-over "$(rule '"when": {"probe": "crashes", "count": 4294967296, "within": "1s"}, '"$LOG")"
valid probe-rate-max "$(PROBES='{"id": "a", "kind": "abort", "rate": {"per_second": 4294967295, "burst": 4294967295}}' policy)"
invalid probe-rate-over "$(PROBES='{"id": "a", "kind": "abort", "rate": {"per_second": 4294967296}}' policy)"
invalid probe-burst-zero "$(PROBES='{"id": "a", "kind": "abort", "rate": {"burst": 0}}' policy)"
valid action-exec-output-max "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/true\"], \"output\": 1048576}]")"
valid action-exec-output-zero "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/true\"], \"output\": 0}]")"
invalid action-exec-output-over "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/true\"], \"output\": 1048577}]")"
valid durations-max "$(PROBES='{"id": "crashes", "kind": "signal"}, {"id": "slow", "kind": "latency", "binary": "/b", "symbol": "f", "baseline": {"window": "1h"}}, {"id": "t", "kind": "stall", "binary": "/b", "symbol": "f", "every": "24h"}' rule '"by": "host", "when": {"any": [{"probe": "crashes", "count": 1, "within": "24h"}, {"probe": "slow", "p99": "1h", "within": "24h"}, {"probe": "slow", "p90": {"baseline": "24h", "factor": 2}, "within": "1s"}]}, "cooldown": "24h", "verify": "24h", "actions": [{"do": "exec", "command": ["/bin/true"], "timeout": "10m", "output": "1MiB"}]')"
valid rule-rate "$(rule '"when": {"probe": "crashes", "rate": "0.5/m", "signal": ["SIGSEGV", "SIGBUS"], "stack_has": "parse", "within": "1m"}, '"$LOG")"

valid probe-faults-fatal "$(PROBES='{"id": "a", "kind": "signal", "faults": "fatal"}, {"id": "b", "kind": "signal", "faults": "all", "handled": true}, {"id": "c", "kind": "signal", "faults": "fatal", "handled": false}' policy)"
invalid probe-faults-unknown "$(PROBES='{"id": "a", "kind": "signal", "faults": "none"}' policy)"
invalid probe-faults-bool "$(PROBES='{"id": "a", "kind": "signal", "faults": false}' policy)"
invalid probe-faults-handled "$(PROBES='{"id": "a", "kind": "signal", "faults": "fatal", "handled": true}' policy)"
invalid probe-faults-exit "$(PROBES='{"id": "a", "kind": "exit", "faults": "all"}' policy)"

# "stack": the kind's way, "cfi" or "fp"; "stack_bytes" sizes a CFI snapshot only
valid probe-stack-ways "$(PROBES='{"id": "a", "kind": "signal", "stack": true}, {"id": "b", "kind": "signal", "stack": "cfi", "stack_bytes": 1024}, {"id": "c", "kind": "abort", "stack": "fp"}, {"id": "d", "kind": "exception", "stack_bytes": 49152}, {"id": "e", "kind": "syscall", "syscalls": ["read"], "errnos": ["EIO"], "stack": "cfi", "stack_bytes": 8192}, {"id": "f", "kind": "latency", "binary": "/b", "symbol": "f", "threshold": "1ms", "stack": "fp"}, {"id": "g", "kind": "abort", "stack": true, "stack_bytes": 4096}' policy)"
invalid probe-stack-signal-false "$(PROBES='{"id": "a", "kind": "signal", "stack": false}' policy)"
invalid probe-stack-signal-fp "$(PROBES='{"id": "a", "kind": "signal", "stack": "fp"}' policy)"
invalid probe-stack-unknown "$(PROBES='{"id": "a", "kind": "abort", "stack": "dwarf"}' policy)"
invalid probe-stack-exit "$(PROBES='{"id": "a", "kind": "exit", "stack": true}' policy)"
invalid probe-stack-bytes-under "$(PROBES='{"id": "a", "kind": "signal", "stack_bytes": 1023}' policy)"
invalid probe-stack-bytes-over "$(PROBES='{"id": "a", "kind": "signal", "stack_bytes": 49153}' policy)"
invalid probe-stack-bytes-fp "$(PROBES='{"id": "a", "kind": "abort", "stack": "fp", "stack_bytes": 4096}' policy)"
invalid probe-stack-bytes-no-stack "$(PROBES='{"id": "a", "kind": "exception", "stack": false, "stack_bytes": 4096}' policy)"
invalid probe-stack-bytes-hot-true "$(PROBES='{"id": "a", "kind": "return", "binary": "/b", "symbol": "f", "when": "< 0", "stack": true, "stack_bytes": 4096}' policy)"
invalid probe-stack-bytes-hot-default "$(PROBES='{"id": "a", "kind": "syscall", "syscalls": ["read"], "errnos": ["EIO"], "stack_bytes": 4096}' policy)"

invalid no-version '{"name": "m", "probes": [{"id": "a", "kind": "oom"}]}'
invalid version-2 '{"salve": 2, "name": "m", "probes": [{"id": "a", "kind": "oom"}]}'
invalid unknown-top "$(policy '"rulez": []')"
invalid no-probes '{"salve": 1, "name": "m", "probes": []}'
invalid dry-run-type "$(policy '"dry_run": "yes"')"
invalid scope-relative "$(policy '"scope": {"binaries": ["bin/app"]}')"
invalid scope-build-id-upper "$(policy '"scope": {"binaries": [{"path": "/b", "build_id": "ABCD"}]}')"
invalid scope-build-id-odd "$(policy '"scope": {"binaries": [{"path": "/b", "build_id": "abc"}]}')"
invalid scope-unit-suffix "$(policy '"scope": {"units": ["app.timer"]}')"
invalid scope-uid-negative "$(policy '"scope": {"uids": [-1]}')"
invalid scope-uid-big "$(policy '"scope": {"uids": [4294967296]}')"
invalid scope-nested-exclude "$(policy '"scope": {"exclude": {"exclude": {}}}')"
invalid probe-kind "$(PROBES='{"id": "a", "kind": "exitt"}' policy)"
invalid probe-field-for-other-kind "$(PROBES='{"id": "a", "kind": "oom", "nonzero": true}' policy)"
invalid probe-symbol-and-offset "$(PROBES='{"id": "a", "kind": "stall", "binary": "/b", "symbol": "f", "offset": 16, "every": "1s"}' policy)"
invalid probe-bad-id "$(PROBES='{"id": "a b", "kind": "oom"}' policy)"
invalid probe-errno "$(PROBES='{"id": "a", "kind": "syscall", "syscalls": ["openat"], "errnos": ["ENOPE"]}' policy)"
invalid rule-no-actions "$(rule "\"when\": $C, \"actions\": []")"
invalid rule-no-when "$(rule "$LOG")"
invalid rule-two-thresholds "$(rule '"when": {"probe": "crashes", "count": 1, "rate": "1/s", "within": "1s"}, '"$LOG")"
invalid rule-no-threshold "$(rule '"when": {"probe": "crashes", "within": "1s"}, '"$LOG")"
invalid rule-no-within "$(rule '"when": {"probe": "crashes", "count": 1}, '"$LOG")"
invalid rule-zero-within "$(rule '"when": {"probe": "crashes", "count": 1, "within": "0ms"}, '"$LOG")"
invalid rule-count-zero "$(rule '"when": {"probe": "crashes", "count": 0, "within": "1s"}, '"$LOG")"
invalid rule-rate-unit "$(rule '"when": {"probe": "crashes", "rate": "5/h", "within": "1s"}, '"$LOG")"
invalid rule-rate-zero "$(rule '"when": {"probe": "crashes", "rate": "0.0/s", "within": "1s"}, '"$LOG")"
invalid rule-percentile-by-process "$(rule '"when": {"probe": "slow", "p99": "5ms", "within": "1s"}, '"$LOG")"
invalid rule-percentile-nested-by-process "$(rule '"by": "process", "when": {"any": ['"$C"', {"probe": "slow", "p99": "5ms", "within": "1s"}]}, '"$LOG")"
invalid rule-baseline-factor "$(rule '"by": "host", "when": {"probe": "slow", "p99": {"baseline": "10m", "factor": 1}, "within": "1s"}, '"$LOG")"
invalid rule-all-empty "$(rule '"when": {"all": []}, '"$LOG")"
invalid rule-all-and-any "$(rule "\"when\": {\"all\": [$C], \"any\": [$C]}, $LOG")"
invalid rule-all-extra "$(rule "\"when\": {\"all\": [$C], \"within\": \"1s\"}, $LOG")"
invalid rule-by "$(rule "\"by\": \"cluster\", \"when\": $C, $LOG")"
invalid rule-budget "$(rule "\"budget\": 0, \"when\": $C, $LOG")"
invalid rule-cooldown "$(rule "\"cooldown\": \"soon\", \"when\": $C, $LOG")"
invalid rule-verify-zero "$(rule "\"verify\": \"0s\", \"when\": $C, $LOG")"
invalid rule-signal-filter "$(rule '"when": {"probe": "crashes", "signal": "SIGTERM", "count": 1, "within": "1s"}, '"$LOG")"
invalid rule-stack-has-space "$(rule '"when": {"probe": "crashes", "stack_has": "a b", "count": 1, "within": "1s"}, '"$LOG")"
invalid action-unknown "$(rule "\"when\": $C, \"actions\": [{\"do\": \"reboot\"}]")"
invalid action-signal-name "$(rule "\"when\": $C, \"actions\": [{\"do\": \"signal\", \"signal\": \"SIGTREM\"}]")"
invalid action-signal-missing "$(rule "\"when\": $C, \"actions\": [{\"do\": \"signal\"}]")"
invalid action-field-for-other "$(rule "\"when\": $C, \"actions\": [{\"do\": \"log\", \"timeout\": \"1s\"}]")"
invalid action-exec-relative "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"logger\"]}]")"
invalid action-exec-empty "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": []}]")"
invalid action-exec-timeout "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/true\"], \"timeout\": \"5\"}]")"
invalid action-exec-output "$(rule "\"when\": $C, \"actions\": [{\"do\": \"exec\", \"command\": [\"/bin/true\"], \"output\": \"4KB\"}]")"

# override and redirect (issue 14): the issue's shapes, each field's edges, and what each refuses.
act() { rule "\"when\": $C, \"actions\": [$1]"; }
valid action-override "$(act '{"do": "override", "binary": "/srv/app/bin/app", "symbol": "parse", "return": -1}')"
valid action-override-when "$(act '{"do": "override", "binary": "/srv/app/bin/app", "symbol": "parse", "return": "-EINVAL", "when": "arg0 == 0"}')"
valid action-override-null "$(act '{"do": "override", "binary": "/srv/app/bin/app", "symbol": "lookup", "return": null}')"
valid action-override-edges "$(act '{"do": "override", "binary": "/b", "symbol": "f@@V1", "return": 9223372036854775807, "when": "arg5 in [1, -2]"}, {"do": "override", "binary": "/b", "symbol": "f", "return": -9223372036854775808, "when": "arg3<0"}')"
valid action-redirect "$(act '{"do": "redirect", "binary": "/srv/app/bin/app", "symbol": "fetch_v2", "to": "fetch_v1"}')"
valid action-redirect-library "$(act '{"do": "redirect", "binary": "/srv/app/bin/app", "symbol": "parse", "to": "parse", "library": "/srv/fixes/parse-fix.so", "build_id": "8f3a09c1d2e4b5a6978877665544332211000fed"}')"
invalid action-override-no-binary "$(act '{"do": "override", "symbol": "parse", "return": -1}')"
invalid action-override-relative "$(act '{"do": "override", "binary": "bin/app", "symbol": "parse", "return": -1}')"
invalid action-override-soname "$(act '{"do": "override", "binary": "libc.so.6", "symbol": "parse", "return": -1}')"
invalid action-override-no-symbol "$(act '{"do": "override", "binary": "/b", "return": -1}')"
invalid action-override-no-return "$(act '{"do": "override", "binary": "/b", "symbol": "parse"}')"
invalid action-override-errno-unsigned "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": "EINVAL"}')"
invalid action-override-errno-unknown "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": "-ENOTANERRNO"}')"
invalid action-override-return-over "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": 9223372036854775808}')"
invalid action-override-return-bool "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": true}')"
invalid action-override-when-arg9 "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": 0, "when": "arg9 == 1"}')"
invalid action-override-when-x "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": 0, "when": "x == 1"}')"
invalid action-override-when-op "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": 0, "when": "arg0 = 1"}')"
invalid action-override-to "$(act '{"do": "override", "binary": "/b", "symbol": "parse", "return": 0, "to": "g"}')"
invalid action-redirect-no-to "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse"}')"
invalid action-redirect-return "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "g", "return": 0}')"
invalid action-redirect-when "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "g", "when": "arg0 == 0"}')"
invalid action-redirect-build-id-alone "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "g", "build_id": "abcd"}')"
invalid action-redirect-library-alone "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "parse", "library": "/fix.so"}')"
invalid action-redirect-build-id-upper "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "parse", "library": "/fix.so", "build_id": "ABCD"}')"
invalid action-redirect-build-id-odd "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "parse", "library": "/fix.so", "build_id": "abc"}')"
invalid action-redirect-build-id-long "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "parse", "library": "/fix.so", "build_id": "0123456789abcdef0123456789abcdef0123456789"}')"
invalid action-redirect-library-relative "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "parse", "library": "fix.so", "build_id": "ab"}')"
invalid action-redirect-to-version "$(act '{"do": "redirect", "binary": "/b", "symbol": "parse", "to": "g@"}')"
invalid action-log-symbol "$(act '{"do": "log", "symbol": "parse"}')"

# rescue (issue 15): the issue's shape and each field's edges.
valid action-rescue "$(act '{"do": "rescue", "at": ["parse", "handle_request"], "return": -1}')"
valid action-rescue-full "$(act '{"do": "rescue", "binary": "/srv/app/bin/app", "at": ["parse@@V1"], "return": "-EINVAL", "window": "250ms"}')"
invalid action-rescue-no-at "$(act '{"do": "rescue", "return": -1}')"
invalid action-rescue-empty-at "$(act '{"do": "rescue", "at": [], "return": -1}')"
invalid action-rescue-no-return "$(act '{"do": "rescue", "at": ["parse"]}')"
invalid action-rescue-at-number "$(act '{"do": "rescue", "at": [1], "return": -1}')"
invalid action-rescue-window-zero "$(act '{"do": "rescue", "at": ["parse"], "return": -1, "window": "0s"}')"
invalid action-rescue-relative "$(act '{"do": "rescue", "binary": "app", "at": ["parse"], "return": -1}')"
invalid action-rescue-symbol "$(act '{"do": "rescue", "at": ["parse"], "return": -1, "symbol": "f"}')"

# breaker (issue 15): around a function or an endpoint, never both; the timing's edges.
valid action-breaker-function "$(act '{"do": "breaker", "binary": "/srv/app/bin/app", "symbol": "fetch", "return": "-ECONNREFUSED"}')"
valid action-breaker-endpoint "$(act '{"do": "breaker", "endpoint": "10.0.0.5:5432", "open_for": "5s", "max_open_for": "1m", "half_open_calls": 3, "half_open_watch": "250ms"}')"
valid action-breaker-endpoint-v6 "$(act '{"do": "breaker", "endpoint": "[fd00::/8]:443"}')"
invalid action-breaker-empty "$(act '{"do": "breaker"}')"
invalid action-breaker-both "$(act '{"do": "breaker", "endpoint": "10.0.0.5:5432", "binary": "/b", "symbol": "f", "return": -1}')"
invalid action-breaker-no-return "$(act '{"do": "breaker", "binary": "/b", "symbol": "f"}')"
invalid action-breaker-calls-zero "$(act '{"do": "breaker", "endpoint": "10.0.0.5:5432", "half_open_calls": 0}')"
invalid action-breaker-open-zero "$(act '{"do": "breaker", "endpoint": "10.0.0.5:5432", "open_for": "0s"}')"
invalid action-breaker-window "$(act '{"do": "breaker", "endpoint": "10.0.0.5:5432", "window": "1s"}')"

# checkpoint and restore (issue 16): a backend by name, keep from 1 to 1000; from an id.
valid action-checkpoint "$(act '{"do": "checkpoint"}')"
valid action-checkpoint-full "$(act '{"do": "checkpoint", "backend": "core", "keep": 5}')"
invalid action-checkpoint-backend "$(act '{"do": "checkpoint", "backend": "gcore"}')"
invalid action-checkpoint-keep "$(act '{"do": "checkpoint", "keep": 0}')"
invalid action-checkpoint-symbol "$(act '{"do": "checkpoint", "symbol": "f"}')"
valid action-restore "$(act '{"do": "restore"}')"
valid action-restore-id "$(act '{"do": "restore", "from": "20261126T101500Z-4242"}')"
invalid action-restore-path "$(act '{"do": "restore", "from": "../x"}')"
invalid action-restore-keep "$(act '{"do": "restore", "keep": 2}')"

# The shipped policies are part of the corpus.
for f in "$ROOT"/policies/*.json "$ROOT"/policies/default/*.json; do
	case $f in *.schema.json) continue ;; esac
	cp "$f" "$WORK/valid/shipped-$(basename "$f")"
	n=$((n + 1))
done

# The schema's verdict on every file: "valid NAME" or "invalid NAME".
python3 - "$SCHEMA" "$WORK"/valid/*.json "$WORK"/invalid/*.json > "$WORK/schema.out" <<'PY' || fail "python3 jsonschema failed"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for path in sys.argv[2:]:
    errors = list(v.iter_errors(json.load(open(path))))
    print(("invalid " if errors else "valid ") + path)
PY

checked=0
for f in "$WORK"/valid/*.json "$WORK"/invalid/*.json; do
	want=$(basename "$(dirname "$f")")
	if "$CTL" validate "$f" > /dev/null 2> "$WORK/err"; then ctl=valid; else ctl=invalid; fi
	schema=$(grep -F " $f" "$WORK/schema.out" | cut -d' ' -f1)
	[ "$ctl" = "$want" ] || fail "$(basename "$f"): salvectl says $ctl, the corpus $want: $(cat "$WORK/err")"
	[ "$schema" = "$want" ] || fail "$(basename "$f"): the schema says ${schema:-nothing}, the corpus $want"
	checked=$((checked + 1))
done
[ "$checked" -eq "$n" ] || fail "checked $checked of $n cases"

pass "salvectl validate and the JSON Schema agree on $checked policies"
