#!/usr/bin/env bash
# OpenPGP commit signatures end to end: fresh GnuPG keys every run (in a
# throw-away GNUPGHOME), real `git commit -S`, and for every case git's verdict
# (`git verify-commit` in the same GNUPGHOME) beside edgeflip's
# (tests/tools/ef_verify_raw with the exported trusted keys). It asserts
# edgeflip's verdict and reason, and that both agree except for the cases
# docs/verification.md lists as deliberately stricter ("test case `pgp-…`").
#
#   EF_BUILD_DIR=./build tests/integration/test_verify_pgp.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/../lib/check.sh"

build=${EF_BUILD_DIR:-$root/build}
tool=$build/tests/tools/ef_verify_raw
[ -x "$tool" ] || { echo "missing $tool (build first, or set EF_BUILD_DIR)"; exit 1; }
for prog in git gpg gpgconf awk sed; do
	command -v $prog >/dev/null || { echo "missing $prog"; exit 1; }
done

work=$(mktemp -d /tmp/ef-verify-pgp.XXXXXX)
export GNUPGHOME=$work/gnupg
trap 'gpgconf --kill all >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -m 700 "$GNUPGHOME"
export TZ=UTC LC_ALL=C
now=$(date +%s)

stricter=$(grep -o 'test case `pgp-[a-z0-9-]*`' "$root/docs/verification.md" |
	sed 's/.*`\(.*\)`/\1/')

g() { gpg --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@"; }
# gen NAME ALGO USAGE EXPIRE [FAKED-TIME] -> fingerprint
gen()
{
	g ${5:+--faked-system-time "$5!"} --quick-gen-key "$1 <$1@example.com>" "$2" "$3" "$4" \
		2>/dev/null || return 1
	gpg --list-keys --with-colons "<$1@example.com>" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'
}
# addkey PRIMARY ALGO USAGE EXPIRE [FAKED-TIME] -> the new subkey's fingerprint
addkey()
{
	g ${5:+--faked-system-time "$5!"} --quick-add-key "$1" "$2" "$3" "$4" 2>/dev/null || return 1
	gpg --list-keys --with-colons "$1" 2>/dev/null | awk -F: '/^fpr/ {f = $10} END {print f}'
}

echo "making keys..."
rsa=$(gen rsa rsa3072 sign never)
p256=$(gen p256 nistp256 sign never)
ed=$(gen ed ed25519 sign never)
sub=$(gen sub ed25519 cert never)
sub_sign=$(addkey "$sub" nistp384/ecdsa sign never)
subrsa=$(gen subrsa ed25519 cert never)
subrsa_sign=$(addkey "$subrsa" rsa3072 sign never)
untrusted=$(gen untrusted ed25519 sign never)
revoked=$(gen revoked ed25519 sign never)
revsub=$(gen revsub ed25519 cert never)
revsub_sign=$(addkey "$revsub" ed25519 sign never)
# Keys that have expired by now: made two years ago, valid for one year.
past=$(date -u -d '2 years ago' +%Y%m%dT000000)
then_day=$(date -u -d '18 months ago' +%Y-%m-%d)
then=${then_day//-/}T000000
then_epoch=$(date -u -d "$then_day" +%s)
expiry=$(date -u -d '1 year ago' +%Y-%m-%d)
expired=$(gen expired ed25519 sign "$expiry" "$past")
expsub=$(gen expsub ed25519 cert never "$past")
expsub_sign=$(addkey "$expsub" ed25519 sign "$expiry" "$past")
for v in rsa p256 ed sub sub_sign subrsa subrsa_sign untrusted revoked revsub revsub_sign expired \
	expsub expsub_sign; do
	[ -n "${!v}" ] || { echo "cannot make key $v"; exit 1; }
done

# The trusted keys: everything but "untrusted", exported while still unrevoked.
gpg --armor --export "$rsa" "$p256" "$ed" "$sub" "$subrsa" "$revoked" "$revsub" "$expired" \
	"$expsub" >"$work/trusted-before-revocation.asc"

repo=$work/repo
git init -q "$repo"
git -C "$repo" config user.name Tester
git -C "$repo" config user.email tester@example.com
cat >"$work/gpg-wrap" <<'EOS'
#!/bin/sh
exec gpg ${EF_FAKED_TIME:+--faked-system-time "$EF_FAKED_TIME!"} $EF_GPG_EXTRA "$@"
EOS
chmod +x "$work/gpg-wrap"
export EF_GPG_EXTRA=

declare -A ids
# commit NAME KEY [FAKED-TIME]: a signed commit; its id goes to ids[NAME].
commit()
{
	echo "$1" >"$repo/$1.txt"
	git -C "$repo" add "$1.txt"
	EF_FAKED_TIME=${3:-} git -C "$repo" -c gpg.program="$work/gpg-wrap" \
		-c user.signingkey="$2!" commit -q -S -m "case $1" || return 1
	ids[$1]=$(git -C "$repo" rev-parse HEAD)
}
echo "signing commits..."
commit good-rsa3072 "$rsa"
commit good-nistp256 "$p256"
commit good-ed25519 "$ed"
commit good-subkey-p384 "$sub_sign"
commit good-subkey-rsa "$subrsa_sign"
EF_GPG_EXTRA='--digest-algo SHA512' commit good-sha512 "$ed"
commit pgp-untrusted "$untrusted"
EF_GPG_EXTRA='--digest-algo SHA1' commit pgp-sha1 "$rsa"
commit revoked "$revoked"
commit revoked-subkey "$revsub_sign"
commit expired "$expired" "$then"
commit expired-subkey "$expsub_sign" "$then"

# Revoke a key and a subkey, then export the trusted file again.
sed 's/^:-----/-----/' "$GNUPGHOME/openpgp-revocs.d/$revoked.rev" | g --import 2>/dev/null
printf 'key %s\nrevkey\ny\n0\n\ny\nsave\n' "$revsub_sign" |
	gpg --batch --no-tty --pinentry-mode loopback --passphrase '' --command-fd 0 \
		--status-fd 2 --edit-key "$revsub" >/dev/null 2>&1
gpg --armor --export "$rsa" "$p256" "$ed" "$sub" "$subrsa" "$revoked" "$revsub" "$expired" \
	"$expsub" >"$work/trusted.asc"

# Hand-made variants of a good commit, written into the repository so git sees them too.
# variant NAME FROM SED-SCRIPT
variant()
{
	git -C "$repo" cat-file commit "${ids[$2]}" | sed "$3" >"$work/$1.raw"
	ids[$1]=$(git -C "$repo" hash-object -t commit -w --literally "$work/$1.raw")
}
variant message-changed good-ed25519 's/^case good-ed25519$/case good-ed25519!/'
variant tree-changed good-rsa3072 "s/^tree .*/tree $(git -C "$repo" rev-parse "${ids[good-nistp256]}^{tree}")/"
# The CRC24 line: every character shifted by one.
variant crc-corrupted good-nistp256 \
	'/^ =/ y/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+\//BCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+\/A/'
variant base64-corrupted good-ed25519 '/^gpgsig /{n;n;s/^ \(.\)\(.\)/ \2\1/}'

# case | edgeflip verdict | text expected in edgeflip's reason
cases=(
	"good-rsa3072|good|good signature"
	"good-nistp256|good|good signature"
	"good-ed25519|good|good signature"
	"good-subkey-p384|good|good signature"
	"good-subkey-rsa|good|good signature"
	"good-sha512|good|good signature"
	"pgp-untrusted|bad|no trusted key has fingerprint $untrusted"
	"pgp-sha1|bad|signature made with SHA-1 is refused"
	"revoked|bad|key $revoked is revoked"
	"revoked-subkey|bad|subkey $revsub_sign of key $revsub is revoked"
	"expired|bad|key $expired expired on $expiry"
	"expired-subkey|bad|subkey $expsub_sign of key $expsub expired on $expiry"
	"message-changed|bad|signature does not match the commit"
	"tree-changed|bad|signature does not match the commit"
	"crc-corrupted|bad|armor checksum (CRC24) mismatch"
	"base64-corrupted|bad|armor checksum (CRC24) mismatch"
)

printf '%-18s %-5s %-9s %s\n' CASE GIT EDGEFLIP REASON
for entry in "${cases[@]}"; do
	IFS='|' read -r name want reason <<<"$entry"
	id=${ids[$name]}
	if git -C "$repo" verify-commit "$id" >/dev/null 2>&1; then
		git_verdict=good
	else
		git_verdict=bad
	fi
	out=$(git -C "$repo" cat-file commit "$id" |
		"$tool" --openpgp-keys "$work/trusted.asc" --now "$now")
	rc=$?
	got=$(sed -n 's/^verdict=//p' <<<"$out")
	got_reason=$(sed -n 's/^reason=//p' <<<"$out")
	printf '%-18s %-5s %-9s %s\n' "$name" "$git_verdict" "$got" "$got_reason"

	ef_expect_eq "$name: edgeflip verdict" "$want" "$got"
	ef_expect_eq "$name: exit code" "$([ "$want" = good ] && echo 0 || echo 1)" "$rc"
	ef_expect_contains "$name: reason" "$got_reason" "$reason"
	ef_expect_contains "$name: format" "$out" "format=openpgp"
	if grep -qx "$name" <<<"$stricter"; then
		ef_expect_eq "$name: git accepts, edgeflip is stricter (documented)" "good/bad" \
			"$git_verdict/$got"
	else
		ef_expect_eq "$name: git and edgeflip agree" "$git_verdict" "$got"
	fi
done

# Signer is the primary fingerprint, key the signing (sub)key.
out=$(git -C "$repo" cat-file commit "${ids[good-subkey-p384]}" |
	"$tool" --openpgp-keys "$work/trusted.asc" --now "$now")
ef_expect_contains "subkey: signer is the primary fingerprint" "$out" "signer=$sub"
ef_expect_contains "subkey: key is the subkey fingerprint" "$out" "key=$sub_sign"
out=$(git -C "$repo" cat-file commit "${ids[good-rsa3072]}" |
	"$tool" --openpgp-keys "$work/trusted.asc" --now "$now")
ef_expect_contains "primary: signer" "$out" "signer=$rsa"
ef_expect_contains "primary: key" "$out" "key=$rsa"

# Revocations count only once they are in the trusted file.
out=$(git -C "$repo" cat-file commit "${ids[revoked]}" |
	"$tool" --openpgp-keys "$work/trusted-before-revocation.asc" --now "$now")
ef_expect_contains "revoked key is good before the revocation is exported" "$out" \
	"verdict=good"
# An expired key was good at the time it signed.
out=$(git -C "$repo" cat-file commit "${ids[expired]}" |
	"$tool" --openpgp-keys "$work/trusted.asc" --now "$then_epoch")
ef_expect_contains "expired key is good on the device clock of then" "$out" "verdict=good"

# A key file that is not one: exit 2, the file is named.
printf 'not a key\n' >"$work/junk.asc"
msg=$(git -C "$repo" cat-file commit "${ids[good-ed25519]}" |
	"$tool" --openpgp-keys "$work/junk.asc" 2>&1 >/dev/null)
ef_expect_eq "junk key file: exit 2" 2 $?
ef_expect_contains "junk key file: named" "$msg" \
	"$work/junk.asc: no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line"

ef_summary
