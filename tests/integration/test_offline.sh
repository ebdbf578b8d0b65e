#!/usr/bin/env bash
# End to end: `edgeflip import FILE` on an air-gapped device (issue 14 item 5),
# with bundles made by the real `git bundle` from a signed GitOps repository,
# deployed on a real Podman engine. The device's [source] url points at a
# port nobody listens on: everything comes from the bundles. Checked: a full
# v2 bundle and an incremental v3 bundle deployed; an older bundle, an
# unsigned tip, a bundle lacking its prerequisite and one without the branch
# refused with exit 3 and nothing changed (running set, revision, cache); a
# damaged file refused; with the daemon running, import hands the file over
# and reports the daemon's result.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/e2e.sh"

ef_e2e_start offline
dead_port=$(ef_free_port)
ef_agent_config "$work/agent" "source.url=https://localhost:$dead_port/gitops.git"

web1=$(ef_image_build web v1 "web v1") || exit 1
web2=$(ef_image_build web v2 "web v2") || exit 1
web3=$(ef_image_build web v3 "web v3") || exit 1
env=$EF_OPS_DIR/work/environments/production
port_web=$(ef_free_port)
log=$work/import.log
cache=$work/agent/state/cache.git
b=$work/bundles
mkdir -p "$b"

web_says() { curl -s --max-time 5 "http://127.0.0.1:$port_web/" 2>/dev/null; }
bundle() { ef_git -C "$EF_OPS_DIR/work" bundle create -q "$@"; }
in_cache() { git --git-dir "$cache" cat-file -e "$1^{commit}" 2>/dev/null && echo yes || echo no; }
# ef_import NAME FILE WANT_RC: runs import, checks the exit code.
ef_import()
{
	local rc
	ef_agent import "$2" >"$log" 2>&1
	rc=$?
	ef_expect_eq "$1: exit $3" "$3" $rc
	[ "$rc" = "$3" ] || sed 's/^/    | /' "$log" | tail -15
}

# --- a full v2 bundle: the first deploy, with no network -------------------
ef_compose "$env/compose.json" "web=$web1:$port_web"
ef_gitops_commit "web v1" || exit 1
c1=$(ef_gitops_head)
bundle "$b/full-c1.bundle" main
ef_expect_eq "git writes a v2 bundle by default" "# v2 git bundle" "$(head -1 "$b/full-c1.bundle")"
ef_import "full v2 bundle" "$b/full-c1.bundle" 0
ef_expect_eq "v1 serves after the import" "web v1" "$(web_says)"
ef_expect_eq "status names the imported commit" "$c1" "$(ef_status_field revision)"
ef_expect_eq "status names the signer" "release@example.com" "$(ef_status_field signer)"
ef_import "the same bundle again" "$b/full-c1.bundle" 0
ef_expect_contains "again: already deployed" "$(cat "$log")" "import-current"

# --- an incremental v3 bundle (prerequisite: the deployed commit) ----------
ef_compose "$env/compose.json" "web=$web2:$port_web"
ef_gitops_commit "web v2" || exit 1
c2=$(ef_gitops_head)
bundle --version=3 "$b/incr-c2.bundle" "$c1..main"
ef_expect_eq "git writes a v3 bundle" "# v3 git bundle" "$(head -1 "$b/incr-c2.bundle")"
ef_expect_contains "the v3 bundle has a prerequisite" "$(head -4 "$b/incr-c2.bundle")" "-$c1"
ef_import "incremental v3 bundle" "$b/incr-c2.bundle" 0
ef_expect_eq "v2 serves after the v3 import" "web v2" "$(web_says)"
ef_expect_eq "status names c2" "$c2" "$(ef_status_field revision)"

running_before=$(ef_running)
# unchanged RC NAME: the running set, the revision and what serves.
unchanged()
{
	ef_expect_eq "$1: running set unchanged" "$running_before" "$(ef_running)"
	ef_expect_eq "$1: revision unchanged" "$c2" "$(ef_status_field revision)"
	ef_expect_eq "$1: v2 still serves" "web v2" "$(web_says)"
}

# --- an older bundle: refused by the descent check -------------------------
ef_import "older bundle" "$b/full-c1.bundle" 3
ef_expect_contains "older: the reason is the descent" "$(cat "$log")" "does not descend from the deployed commit"
unchanged "older"

# --- an unsigned tip --------------------------------------------------------
ef_compose "$env/compose.json" "web=$web3:$port_web"
ef_git -C "$EF_OPS_DIR/work" add -A && ef_git -C "$EF_OPS_DIR/work" commit -q -m "unsigned v3"
c3=$(ef_gitops_head)
bundle "$b/unsigned.bundle" main
ef_import "unsigned tip" "$b/unsigned.bundle" 3
ef_expect_contains "unsigned: the reason is the signature" "$(cat "$log")" "signature"
unchanged "unsigned"

# --- a bundle lacking history: its prerequisite is not on the device -------
ef_gitops_commit "signed v3" || exit 1
c4=$(ef_gitops_head)
ef_gitops_commit "signed v3 again" || exit 1
c5=$(ef_gitops_head)
bundle "$b/lacking.bundle" "$c4..main"
ef_import "bundle lacking its prerequisite" "$b/lacking.bundle" 3
ef_expect_contains "lacking: the reason names the missing commit" "$(cat "$log")" "needs commit $c4"
ef_expect_eq "lacking: nothing of it in the cache" "no" "$(in_cache "$c5")"
unchanged "lacking"

# --- a bundle without the configured branch --------------------------------
ef_git -C "$EF_OPS_DIR/work" branch -q -f other "$c5"
bundle "$b/other.bundle" other
ef_import "bundle without the branch" "$b/other.bundle" 3
ef_expect_contains "no branch: the reason names refs/heads/main" "$(cat "$log")" "does not carry refs/heads/main"
unchanged "no branch"

# --- not a bundle, and a cut pack ------------------------------------------
printf 'hello\n' >"$b/text.bundle"
ef_import "not a bundle" "$b/text.bundle" 3
ef_expect_contains "not a bundle: says so" "$(cat "$log")" "not a git bundle"
bundle "$b/full-c5.bundle" main
head -c $(($(stat -c %s "$b/full-c5.bundle") - 100)) "$b/full-c5.bundle" >"$b/cut.bundle"
ef_import "a cut bundle" "$b/cut.bundle" 3
ef_expect_contains "cut: the pack is damaged" "$(cat "$log")" "pack"
unchanged "cut"

# --- import beside a running daemon: handed over, the daemon applies it -----
"$EF_BIN" -c "$EF_AGENT_INI" run >"$work/daemon.log" 2>&1 &
daemon=$!
ef_wait_until 10 grep -q started "$work/daemon.log"
ef_import "older bundle through the daemon" "$b/full-c1.bundle" 3
ef_expect_contains "through the daemon: handed over" "$(cat "$log")" "handed"
# refused once already (above): now it is quarantined, and the daemon says so.
ef_expect_contains "through the daemon: the daemon's reason" "$(cat "$log")" "is quarantined"
unchanged "older through the daemon"
ef_import "full bundle with a newer signed tip, through the daemon" "$b/full-c5.bundle" 0
ef_expect_eq "v3 serves after the daemon's import" "web v3" "$(web_says)"
ef_expect_eq "status names c5" "$c5" "$(ef_status_field revision)"
ef_expect_contains "the daemon logged the import" "$(cat "$work/daemon.log")" "import-requested"
ef_expect_eq "the daemon still runs" 0 "$(kill -0 "$daemon" 2>/dev/null; echo $?)"
ef_expect_eq "no request left behind" "no" \
	"$([ -e "$work/agent/state/import.request" ] && echo yes || echo no)"
kill "$daemon" 2>/dev/null
wait "$daemon" 2>/dev/null

ef_summary
