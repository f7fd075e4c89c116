# Shared by the shell-level tests: counted assertions and a closing summary
# line ("N passed, N failed") that CI reads.
PASSED=0
FAILED=0
SUITE=${SUITE:-tests}

pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

# expect_line FILE REGEX DESCRIPTION
expect_line() {
    if grep -Eq -- "$2" "$1"; then pass "$3"; else fail "$3 (no line matching /$2/ in $1)"; fi
}

# expect_no_line FILE REGEX DESCRIPTION
expect_no_line() {
    if grep -Eq -- "$2" "$1"; then fail "$3 (unexpected: $(grep -Em1 -- "$2" "$1"))"; else pass "$3"; fi
}

summary() {
    printf '%s: %d passed, %d failed\n' "$SUITE" "$PASSED" "$FAILED"
    [ "$FAILED" -eq 0 ]
}
