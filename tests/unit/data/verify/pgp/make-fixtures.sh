#!/bin/sh
# Regenerates the OpenPGP fixtures for tests/unit/test_openpgp.c with real
# GnuPG 2.2 and git. Run it from anywhere; it rewrites the files next to it.
# Times are faked so the fixtures do not depend on the clock:
#   keys are made on 2025-01-01, commits signed on 2025-06-01 (the expiring
#   subkey's commit on 2025-02-01), the expiring key expires on 2026-01-01.
#
# The fuzz seed corpora (tests/fuzz/corpus/fuzz_armor, fuzz_pgp_keys,
# fuzz_pgp_sig) are made from these fixtures at the end; `--seeds-only`
# remakes just them from the committed fixtures.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
corpus=$(cd "$here/../../../../fuzz" && pwd)/corpus
work=$(mktemp -d)
trap 'gpgconf --homedir "$work/gnupg" --kill all 2>/dev/null || true; rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
export TZ=UTC LC_ALL=C

seeds() {
	mkdir -p "$corpus/fuzz_armor" "$corpus/fuzz_pgp_keys" "$corpus/fuzz_pgp_sig"
	for c in "$here"/commit-*.raw; do
		n=$(basename "$c" .raw)
		# Split the commit: the gpgsig header (minus its leading spaces) and the payload.
		awk -v sigf="$work/sig.asc" -v payf="$work/payload" '
			BEGIN { h = 1 }
			h && /^gpgsig / { s = 1; sub(/^gpgsig /, ""); print > sigf; next }
			h && s && /^ / { sub(/^ /, ""); print > sigf; next }
			{ s = 0; if ($0 == "") h = 0; print > payf }' "$c"
		cp "$work/sig.asc" "$corpus/fuzz_armor/$n.asc"
		gpg --dearmor < "$work/sig.asc" > "$work/sig.bin"
		len=$(wc -c < "$work/payload")
		{
			printf "$(printf '\\%03o\\%03o' $((len >> 8)) $((len & 255)))"
			cat "$work/payload" "$work/sig.bin"
		} > "$corpus/fuzz_pgp_sig/$n"
		rm -f "$work/sig.asc" "$work/payload"
	done
	for k in trusted untrusted ed25519; do
		cp "$here/$k.asc" "$corpus/fuzz_armor/$k.asc"
		gpg --dearmor < "$here/$k.asc" > "$corpus/fuzz_pgp_keys/$k"
	done
}
if [ "${1:-}" = --seeds-only ]; then
	seeds
	exit 0
fi

KEYTIME=20250101T000000
SIGTIME=20250601T000000

g() { gpg --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@"; }
gen() { # uid algo usage expire
	g --faked-system-time "$KEYTIME!" --quick-gen-key "$1" "$2" "$3" "$4" 2>/dev/null
	gpg --list-keys --with-colons "$1" 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }'
}
addkey() { # fpr algo usage expire -> prints the new subkey's fingerprint
	g --faked-system-time "$KEYTIME!" --quick-add-key "$1" "$2" "$3" "$4" 2>/dev/null
	gpg --list-keys --with-colons "$1" 2>/dev/null | awk -F: '/^fpr/ { f = $10 } END { print f }'
}

rsa=$(gen 'RSA Signer <rsa@example.com>' rsa3072 sign never)
p256=$(gen 'P256 Signer <p256@example.com>' nistp256 sign never)
ed=$(gen 'Ed25519 Signer <ed@example.com>' ed25519 sign never)
sub=$(gen 'Subkey Signer <sub@example.com>' ed25519 cert never)
sub_sign=$(addkey "$sub" nistp384/ecdsa sign never)
expired=$(gen 'Expiring Signer <exp@example.com>' ed25519 sign 2026-01-01)
revoked=$(gen 'Revoked Signer <rev@example.com>' ed25519 sign never)
revsub=$(gen 'Revoked Subkey <revsub@example.com>' ed25519 cert never)
revsub_sign=$(addkey "$revsub" ed25519 sign never)
expsub=$(gen 'Expiring Subkey <expsub@example.com>' ed25519 cert never)
expsub_sign=$(addkey "$expsub" rsa3072 sign 2025-03-01)
untrusted=$(gen 'Untrusted Signer <untrusted@example.com>' ed25519 sign never)

# Sign commits with every key while all are still valid.
git init -q "$work/repo"
cd "$work/repo"
git config user.name 'Fixture Maker'
git config user.email 'fixtures@example.com'
cat > "$work/gpg-at" <<EOS
#!/bin/sh
exec gpg --faked-system-time "\$EF_SIGTIME!" --pinentry-mode loopback --passphrase '' \$EF_GPG_EXTRA "\$@"
EOS
chmod +x "$work/gpg-at"
commit() { # name key [sigtime]
	export EF_SIGTIME=${3:-$SIGTIME}
	echo "$1" > "$1.txt"
	git add "$1.txt"
	GIT_AUTHOR_DATE='2025-06-01T00:00:00Z' GIT_COMMITTER_DATE='2025-06-01T00:00:00Z' \
		git -c gpg.program="$work/gpg-at" -c user.signingkey="$2!" commit -q -S -m "fixture $1"
	git cat-file commit HEAD > "$here/commit-$1.raw"
}
commit rsa "$rsa"
commit p256 "$p256"
commit ed25519 "$ed"
commit subkey "$sub_sign"
commit expired "$expired"
commit revoked "$revoked"
commit revsub "$revsub_sign"
commit expsub "$expsub_sign" 20250201T000000
commit untrusted "$untrusted"
EF_GPG_EXTRA='--digest-algo SHA1' commit sha1 "$rsa"
EF_GPG_EXTRA='--digest-algo SHA512' commit sha512 "$p256"
unset EF_GPG_EXTRA

# Revoke a key (its stored revocation certificate) and a subkey.
sed 's/^:-----/-----/' "$GNUPGHOME/openpgp-revocs.d/$revoked.rev" | g --import 2>/dev/null
printf 'key %s\nrevkey\ny\n0\n\ny\nsave\n' "$revsub_sign" |
	gpg --batch --no-tty --pinentry-mode loopback --passphrase '' --faked-system-time "$SIGTIME!" \
		--command-fd 0 --status-fd 2 --edit-key "$revsub" >/dev/null 2>&1

gpg --armor --export "$rsa" "$p256" "$ed" "$sub" "$expired" "$revoked" "$revsub" "$expsub" \
	> "$here/trusted.asc"
gpg --armor --export "$untrusted" > "$here/untrusted.asc"
gpg --armor --export "$ed" > "$here/ed25519.asc"

cat > "$here/keys.txt" <<EOS
# name primary-fingerprint signing-key-fingerprint (written by make-fixtures.sh)
rsa $rsa $rsa
p256 $p256 $p256
ed25519 $ed $ed
subkey $sub $sub_sign
expired $expired $expired
revoked $revoked $revoked
revsub $revsub $revsub_sign
expsub $expsub $expsub_sign
untrusted $untrusted $untrusted
sha1 $rsa $rsa
sha512 $p256 $p256
EOS
seeds
echo "fixtures written to $here, fuzz seeds to $corpus"
