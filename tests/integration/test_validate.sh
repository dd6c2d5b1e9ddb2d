#!/usr/bin/env bash
# salvectl validate: offline, no root, the daemon's loader and messages. A valid file and a
# directory print one "ok" line per file and exit 0; a broken file prints the loader's
# message on stderr and exits 1; ids clashing across two files of a directory name both.
. "$(dirname "$0")/lib.sh"

CTL=$BUILD/salvectl
[ -x "$CTL" ] || fail "no $CTL: run make"

P='{"id": "parse-errors", "kind": "return", "binary": "/srv/app", "symbol": "parse", "when": "< 0"}'
write_policy "$WORK/app.json" '{"salve": 1, "name": "app",
 "probes": [{"id": "crashes", "kind": "signal"}, {"id": "exits", "kind": "exit"}, '"$P"'],
 "rules": [{"id": "parse-failing", "when": {"probe": "parse-errors", "count": 3, "within": "1s"},
            "actions": [{"do": "exec", "command": ["/usr/bin/logger", "parse failing"], "timeout": "5s"}]}]}'

out=$("$CTL" validate "$WORK/app.json" 2> "$WORK/err"); rc=$?
[ "$rc" -eq 0 ] || fail "valid file: exit $rc, stderr: $(cat "$WORK/err")"
[ "$out" = "$WORK/app.json: ok (3 probes, 1 rule)" ] || fail "valid file: printed '$out'"
[ ! -s "$WORK/err" ] || fail "valid file: stderr not empty: $(cat "$WORK/err")"

# A directory: each file on its line, in lexical order; the schema beside them is no policy.
mkdir "$WORK/dir"
cp "$WORK/app.json" "$WORK/dir/20-app.json"
write_policy "$WORK/dir/10-base.json" '{"salve": 1, "name": "base", "probes": [{"id": "oom", "kind": "oom"}]}'
cp "$ROOT/policies/salve-policy.schema.json" "$WORK/dir/"
out=$("$CTL" validate "$WORK/dir" 2> "$WORK/err"); rc=$?
[ "$rc" -eq 0 ] || fail "directory: exit $rc, stderr: $(cat "$WORK/err")"
want="$WORK/dir/10-base.json: ok (1 probe, 0 rules)
$WORK/dir/20-app.json: ok (3 probes, 1 rule)"
[ "$out" = "$want" ] || fail "directory: printed '$out'"

# The shipped policies are valid, alone and as one set.
"$CTL" validate "$ROOT/policies" "$ROOT/policies/default" > /dev/null 2> "$WORK/err" ||
	fail "shipped policies: $(cat "$WORK/err")"

# A broken file: the message on stderr, nothing on stdout, exit 1; the valid one still says ok.
write_policy "$WORK/broken.json" '{"salve": 1, "name": "b", "probes": [{"id": "crashes", "kind": "signal"}],
 "rules": [{"id": "r", "when": {"probe": "crashes", "count": 1, "within": "1s"},
            "actions": [{"do": "exec", "command": ["/bin/true"], "timeout": "x"}]}]}'
out=$("$CTL" validate "$WORK/broken.json" "$WORK/app.json" 2> "$WORK/err"); rc=$?
[ "$rc" -eq 1 ] || fail "broken file: exit $rc, want 1"
[ "$out" = "$WORK/app.json: ok (3 probes, 1 rule)" ] || fail "broken file: stdout '$out'"
want="$WORK/broken.json: rules[0].actions[0].timeout: expected a duration such as \"20ms\" or \"1s\", got \"x\""
[ "$(cat "$WORK/err")" = "$want" ] || fail "broken file: stderr '$(cat "$WORK/err")', want '$want'"

# A snapshot's size on a probe whose stack is the frame-pointer walk: refused, saying why.
write_policy "$WORK/stack.json" '{"salve": 1, "name": "s", "probes": [{"id": "crashes", "kind": "signal", "stack_bytes": 32768},
 {"id": "slow", "kind": "latency", "binary": "/srv/app", "symbol": "parse", "threshold": "5ms", "stack": true, "stack_bytes": 4096}]}'
"$CTL" validate "$WORK/stack.json" > /dev/null 2> "$WORK/err"; rc=$?
[ "$rc" -eq 1 ] || fail "stack_bytes: exit $rc, want 1"
want="$WORK/stack.json: probes[1].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); this \"latency\" probe walks frame pointers, which copies no stack"
[ "$(cat "$WORK/err")" = "$want" ] || fail "stack_bytes: stderr '$(cat "$WORK/err")', want '$want'"

# Repairs (issue 14): the issue's override and redirect shapes load; a fix library without
# its build id, and an errno written without its minus, are refused saying what to write.
write_policy "$WORK/repair.json" '{"salve": 1, "name": "r", "probes": [{"id": "crashes", "kind": "signal"}],
 "rules": [{"id": "parse-crashing", "when": {"probe": "crashes", "count": 1, "within": "1s"},
            "actions": [{"do": "override", "binary": "/srv/app/bin/app", "symbol": "parse", "return": "-EINVAL", "when": "arg0 == 0"},
                        {"do": "override", "binary": "/srv/app/bin/app", "symbol": "lookup", "return": null},
                        {"do": "redirect", "binary": "/srv/app/bin/app", "symbol": "fetch_v2", "to": "fetch_v1"},
                        {"do": "redirect", "binary": "/srv/app/bin/app", "symbol": "parse", "to": "parse",
                         "library": "/srv/fixes/parse-fix.so", "build_id": "8f3a09c1d2e4b5a6"}]}]}'
out=$("$CTL" validate "$WORK/repair.json" 2> "$WORK/err"); rc=$?
[ "$rc" -eq 0 ] || fail "repairs: exit $rc, stderr: $(cat "$WORK/err")"
[ "$out" = "$WORK/repair.json: ok (1 probe, 1 rule)" ] || fail "repairs: printed '$out'"
write_policy "$WORK/fixlib.json" '{"salve": 1, "name": "f", "probes": [{"id": "crashes", "kind": "signal"}],
 "rules": [{"id": "r", "when": {"probe": "crashes", "count": 1, "within": "1s"},
            "actions": [{"do": "redirect", "binary": "/srv/app/bin/app", "symbol": "parse", "to": "parse", "library": "/srv/fixes/parse-fix.so"}]}]}'
"$CTL" validate "$WORK/fixlib.json" > /dev/null 2> "$WORK/err"; rc=$?
[ "$rc" -eq 1 ] || fail "fix library without build_id: exit $rc, want 1"
want="$WORK/fixlib.json: rules[0].actions[0]: missing required field \"build_id\" (the fix library's GNU build id, as \"readelf -n\" prints it: salve loads no other file)"
[ "$(cat "$WORK/err")" = "$want" ] || fail "fix library without build_id: stderr '$(cat "$WORK/err")', want '$want'"
write_policy "$WORK/errno.json" '{"salve": 1, "name": "e", "probes": [{"id": "crashes", "kind": "signal"}],
 "rules": [{"id": "r", "when": {"probe": "crashes", "count": 1, "within": "1s"},
            "actions": [{"do": "override", "binary": "/srv/app/bin/app", "symbol": "parse", "return": "EINVAL"}]}]}'
"$CTL" validate "$WORK/errno.json" > /dev/null 2> "$WORK/err"; rc=$?
[ "$rc" -eq 1 ] || fail "errno without minus: exit $rc, want 1"
want="$WORK/errno.json: rules[0].actions[0].return: an errno is returned negated: write \"-EINVAL\" for -22, or give the number, got \"EINVAL\""
[ "$(cat "$WORK/err")" = "$want" ] || fail "errno without minus: stderr '$(cat "$WORK/err")', want '$want'"

# Every mistake of a file, each on its line with its JSON path, in the file's order; the
# misspelt field ends its probe (no "missing kind" after it).
write_policy "$WORK/many.json" '{"salve": 1, "name": "many", "scope": {"binaries": ["bin/app"]},
 "probes": [{"id": "crashes", "kind": "signal", "signals": ["SIGSEV", "SIGBUS"]},
            {"id": "x", "knd": "exit"},
            {"id": "slow", "kind": "latency", "binary": "/srv/app", "symbol": "parse", "threshold": "20"}],
 "rules": [{"id": "r", "when": {"probe": "crashes", "count": 1, "within": "1s"},
            "actions": [{"do": "lgo"}, {"do": "exec", "command": ["/bin/true"], "timeout": "x"}]}]}'
out=$("$CTL" validate "$WORK/many.json" "$WORK/app.json" 2> "$WORK/err"); rc=$?
[ "$rc" -eq 1 ] || fail "many mistakes: exit $rc, want 1"
[ "$out" = "$WORK/app.json: ok (3 probes, 1 rule)" ] || fail "many mistakes: stdout '$out'"
want="$WORK/many.json: scope.binaries[0]: expected an absolute path, got \"bin/app\"
$WORK/many.json: probes[0].signals[0]: unknown signal \"SIGSEV\" (did you mean \"SIGSEGV\"?)
$WORK/many.json: probes[1]: unknown field \"knd\" (did you mean \"kind\"?)
$WORK/many.json: probes[2].threshold: expected a duration such as \"20ms\" or \"1s\", got \"20\"
$WORK/many.json: rules[0].actions[0].do: unknown action \"lgo\" (did you mean \"log\"?)
$WORK/many.json: rules[0].actions[1].timeout: expected a duration such as \"20ms\" or \"1s\", got \"x\""
[ "$(cat "$WORK/err")" = "$want" ] || fail "many mistakes: stderr '$(cat "$WORK/err")', want '$want'"

# A syntax error: file, line and column.
printf '{"salve": 1,\n "name": "s",,\n}\n' > "$WORK/syntax.json"
"$CTL" validate "$WORK/syntax.json" > /dev/null 2> "$WORK/err" && fail "syntax error: exit 0"
grep -q "^$WORK/syntax.json:2:[0-9]*: syntax error" "$WORK/err" || fail "syntax error: '$(cat "$WORK/err")'"

# The same id in two files of a directory: both files and JSON paths are named.
mkdir "$WORK/clash"
cp "$WORK/app.json" "$WORK/clash/a.json"
write_policy "$WORK/clash/b.json" '{"salve": 1, "name": "b", "probes": [{"id": "parse-failing", "kind": "oom"}]}'
"$CTL" validate "$WORK/clash" > "$WORK/out" 2> "$WORK/err"; rc=$?
[ "$rc" -eq 1 ] || fail "clash: exit $rc, want 1"
[ ! -s "$WORK/out" ] || fail "clash: stdout '$(cat "$WORK/out")'"
want="$WORK/clash/b.json: probes[0].id: duplicate id \"parse-failing\" (first declared at $WORK/clash/a.json: rules[0].id)"
[ "$(cat "$WORK/err")" = "$want" ] || fail "clash: stderr '$(cat "$WORK/err")', want '$want'"

# Usage: no argument is a usage error (2), and --help documents the verb.
"$CTL" validate > /dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "no argument: exit $rc, want 2"
"$CTL" --help | grep -q '^  validate ' || fail "--help does not document validate"

pass "salvectl validate: files, directories, every error of a file with its message (stack_bytes without a CFI stack, repairs), clashes across files"
