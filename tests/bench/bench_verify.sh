#!/usr/bin/env bash
# Time to verify one SSH-signed commit, for each key type edgeflip accepts:
# parse the raw object, match the key against allowed_signers, check the
# signature (ef_verify_raw --repeat N, in one process). For comparison, the
# time git takes for `git verify-commit` (which runs ssh-keygen twice).
# Prints `figure: value` lines.
#
#   EF_BUILD_DIR=./build [REPEAT=200] tests/bench/bench_verify.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EF_BUILD_DIR:-$root/build}
tool=$build/tests/tools/ef_verify_raw
repeat=${REPEAT:-200}
[ -x "$tool" ] || { echo "missing $tool (build first, or set EF_BUILD_DIR)"; exit 1; }

work=$(mktemp -d /tmp/ef-bench-verify.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$root/tests/unit/data/verify/ssh/make-fixtures.sh" "$work/out" "$work/work" >/dev/null ||
	{ echo "cannot make the fixtures"; exit 1; }

status=0
for c in ed25519 ecdsa256 ecdsa384 rsa; do
	out=$("$tool" --allowed-signers "$work/out/allowed_signers" --now 1780000000 \
		--repeat "$repeat" <"$work/out/cases/good-$c.commit")
	if ! grep -q '^verdict=good' <<<"$out"; then
		echo "good-$c did not verify: $out" >&2
		status=1
		continue
	fi
	case $c in
	ed25519) name=ssh_ed25519 ;;
	ecdsa256) name=ssh_ecdsa_p256 ;;
	ecdsa384) name=ssh_ecdsa_p384 ;;
	rsa) name=ssh_rsa3072_sha512 ;;
	esac
	echo "verify_us_$name: $(sed -n 's/^us_per_verify=//p' <<<"$out")"
done

# The same good-ed25519 commit through git and ssh-keygen, averaged over 20 runs.
id=$(awk '$1 == "good-ed25519" {print $2}' "$work/work/ids")
start=$(date +%s%N)
for _ in $(seq 20); do
	git -C "$work/work/repo" -c gpg.ssh.allowedSignersFile="$work/out/allowed_signers" \
		verify-commit "$id" >/dev/null 2>&1 || status=1
done
end=$(date +%s%N)
echo "git_verify_commit_us_ssh_ed25519: $(((end - start) / 20000))"
echo "verify_repeat: $repeat"
exit $status
