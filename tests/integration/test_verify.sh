#!/usr/bin/env bash
# SSH commit signatures end to end: fresh ssh-keygen keys every run, real
# `git commit -S` with gpg.format=ssh, hand-spliced negative cases (all made
# by tests/unit/data/verify/ssh/make-fixtures.sh into a temporary folder).
# For every case it prints git's verdict (`git verify-commit` with
# gpg.ssh.allowedSignersFile) beside edgeflip's (tests/tools/ef_verify_raw),
# asserts edgeflip's verdict and reason, and asserts that both agree except
# for the cases docs/verification.md lists as deliberately stricter.
#
#   EF_BUILD_DIR=./build tests/integration/test_verify.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/check.sh"

build=${EF_BUILD_DIR:-$root/build}
tool=$build/tests/tools/ef_verify_raw
[ -x "$tool" ] || { echo "missing $tool (build first, or set EF_BUILD_DIR)"; exit 1; }
for prog in git ssh-keygen openssl xxd base64 awk; do
	command -v $prog >/dev/null || { echo "missing $prog"; exit 1; }
done

work=$(mktemp -d /tmp/ef-verify.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$root/tests/unit/data/verify/ssh/make-fixtures.sh" "$work/out" "$work/work" >/dev/null ||
	{ echo "cannot make the fixtures"; exit 1; }
signers=$work/out/allowed_signers
repo=$work/work/repo
# The device clock for edgeflip: 2026-05-28T20:26:40Z (heidi's key expired on 2026-01-01).
now=1780000000

# Cases where edgeflip refuses what git accepts, as listed in the table of
# docs/verification.md ("test case `NAME`").
stricter=$(grep -o 'test case `[a-z0-9-]*`' "$root/docs/verification.md" | sed 's/.*`\(.*\)`/\1/')

fp() { awk -v n="$1" '$1 == n {print $2}' "$work/out/fingerprints"; }

# case | edgeflip verdict | text expected in edgeflip's reason
cases=(
	"good-ed25519|good|good signature"
	"good-ecdsa256|good|good signature"
	"good-ecdsa384|good|good signature"
	"good-rsa|good|good signature"
	"good-options|good|good signature"
	"unsigned|bad|unsigned commit"
	"gpgsig-in-message|bad|unsigned commit"
	"untrusted|bad|no trusted key matches the signing key $(fp mallory)"
	"expired|bad|is not valid after 2020-01-01T00:00:00Z (committer time 2025-06-01T12:00:00Z)"
	"not-yet-valid|bad|is not valid before 2099-01-01T00:00:00Z (committer time 2025-06-01T12:00:00Z)"
	"namespace-refused|bad|is not allowed to sign git commits (namespaces option on line 9"
	"device-expired|bad|expired at 2026-01-01T00:00:00Z by the device clock"
	"namespace-file|bad|namespace 'file' is not 'git'"
	"tree-changed|bad|signature does not match the commit (content changed after signing?)"
	"message-changed|bad|signature does not match the commit (content changed after signing?)"
	"nul-byte|bad|NUL byte in commit object at offset"
	"duplicate-gpgsig|bad|duplicate signature header: 'gpgsig'"
	"injected-gpgsig-sha256|bad|duplicate signature header: 'gpgsig-sha256'"
	"trailing-bytes|bad|SSH signature has 4 trailing bytes"
	"armor-trailing-text|bad|data after the end of the SSH signature"
	"x509|bad|X.509 (gpgsm) signatures are unsupported"
	"ssh-rsa-sha1|bad|ssh-rsa (SHA-1) signatures are refused"
)

printf '%-24s %-5s %-9s %s\n' CASE GIT EDGEFLIP REASON
for entry in "${cases[@]}"; do
	IFS='|' read -r name want reason <<<"$entry"
	id=$(awk -v n="$name" '$1 == n {print $2}' "$work/work/ids")
	if git -C "$repo" -c gpg.ssh.allowedSignersFile="$signers" verify-commit "$id" \
		>/dev/null 2>&1; then
		git_verdict=good
	else
		git_verdict=bad
	fi
	out=$("$tool" --allowed-signers "$signers" --now $now <"$work/out/cases/$name.commit")
	rc=$?
	got=$(sed -n 's/^verdict=//p' <<<"$out")
	got_reason=$(sed -n 's/^reason=//p' <<<"$out")
	printf '%-24s %-5s %-9s %s\n' "$name" "$git_verdict" "$got" "$got_reason"

	ef_expect_eq "$name: edgeflip verdict" "$want" "$got"
	ef_expect_eq "$name: exit code" "$([ "$want" = good ] && echo 0 || echo 1)" "$rc"
	ef_expect_contains "$name: reason" "$got_reason" "$reason"
	if [ "$want" = good ]; then
		ef_expect_contains "$name: key fingerprint like ssh-keygen -l" "$out" "key=SHA256:"
	fi
	if grep -qx "$name" <<<"$stricter"; then
		ef_expect_eq "$name: git accepts, edgeflip is stricter (documented)" "good/bad" \
			"$git_verdict/$got"
	else
		ef_expect_eq "$name: git and edgeflip agree" "$git_verdict" "$got"
	fi
done

# The signer and key of a good signature are the principal and the ssh-keygen fingerprint.
out=$("$tool" --allowed-signers "$signers" --now $now <"$work/out/cases/good-ecdsa384.commit")
ef_expect_contains "signer is the principal" "$out" "signer=carol@example.com"
ef_expect_contains "key is ssh-keygen's fingerprint" "$out" "key=$(fp carol)"

# The same device-expired commit is good while the device clock is before valid-before.
"$tool" --allowed-signers "$signers" --now 1767225600 <"$work/out/cases/device-expired.commit" \
	>/dev/null
ef_expect_eq "device-expired is good before the key's valid-before" 0 $?

# Usage and setup errors exit 2.
"$tool" </dev/null >/dev/null 2>&1
ef_expect_eq "no trust file: exit 2" 2 $?
printf 'a@x cert-authority ssh-ed25519 AAAA\n' >"$work/ca"
msg=$("$tool" --allowed-signers "$work/ca" </dev/null 2>&1 >/dev/null)
ef_expect_eq "cert-authority line: exit 2" 2 $?
ef_expect_contains "cert-authority line: file and line named" "$msg" \
	"$work/ca:1: cert-authority lines are not supported"

ef_summary
