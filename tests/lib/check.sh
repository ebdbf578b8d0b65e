# shellcheck shell=bash
# A minimal assertion kit for the bash suites: counts, names what failed, and
# ends with the "N passed, M failed" line that tests/run.sh sums up.
EF_PASSED=0
EF_FAILED=0
EF_FAILED_NAMES=()

ef_pass() { EF_PASSED=$((EF_PASSED + 1)); echo "ok - $1"; }
ef_fail()
{
	EF_FAILED=$((EF_FAILED + 1))
	EF_FAILED_NAMES+=("$1")
	echo "FAIL - $1${2:+: $2}"
}

# ef_check NAME COMMAND...: passes when COMMAND succeeds.
ef_check()
{
	local name=$1
	shift
	if "$@"; then ef_pass "$name"; else ef_fail "$name"; fi
}

# ef_expect_eq NAME WANT GOT
ef_expect_eq()
{
	if [ "$2" = "$3" ]; then ef_pass "$1"; else ef_fail "$1" "want [$2] got [$3]"; fi
}

# ef_expect_contains NAME HAYSTACK NEEDLE
ef_expect_contains()
{
	case $2 in
	*"$3"*) ef_pass "$1" ;;
	*) ef_fail "$1" "[$3] not in: $(printf '%s' "$2" | tail -c 600)" ;;
	esac
}

# ef_check_log NAME COMMAND...: passes when COMMAND succeeds; its output is
# shown (first 20 lines) only when it fails.
ef_check_log()
{
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ef_pass "$name"
	else
		ef_fail "$name"
		printf '%s\n' "$out" | head -20 | sed 's/^/       /'
	fi
}

# ef_add_suite NAME LOG RC: adds the "N passed, M failed" line of a suite
# that ran with its output in LOG and exit status RC. A suite with no such
# line, or that failed without a failed check, counts one failure more.
ef_add_suite()
{
	local name=$1 log=$2 rc=$3 line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		ef_fail "$name: no summary (exit $rc; log: $log)"
		tail -20 "$log" | sed 's/^/    | /'
		return 1
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	EF_PASSED=$((EF_PASSED + p))
	EF_FAILED=$((EF_FAILED + f))
	grep -E '^FAIL' "$log" | sed "s/^FAIL - /FAIL - $name: /"
	if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then
		ef_fail "$name exited $rc with no failed check"
	fi
	echo "# $name: $line (log: $log)"
	[ "$f" -eq 0 ] && [ "$rc" -eq 0 ]
}

ef_summary()
{
	echo "$EF_PASSED passed, $EF_FAILED failed"
	[ "$EF_FAILED" -eq 0 ]
}

# ef_wait_until TIMEOUT_S COMMAND...: polls every 0.2 s.
ef_wait_until()
{
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}
