# shellcheck shell=sh
# debian-apt.sh — a private apt for one target architecture, sourced by
# make-sysroot.sh and fetch-board.sh; build-firmware-deps.sh uses its retry
# and host install.
#
# apt runs with its own sources file, package lists, cache and an empty dpkg
# status under a folder of the caller, with APT::Architecture set to the
# target: nothing is installed on this machine, and its apt and dpkg setup is
# not touched. Debug::NoLocking: apt would otherwise lock /var/lib/dpkg.
#
# The caller defines say() and die() (messages name the script).
# Word splitting of package lists and apt options is intended here.
# shellcheck disable=SC2086,SC2116

# ef_apt_retry COMMAND...: mirrors sometimes answer "Mirror sync in
# progress?": three tries, 10 and 20 s apart.
ef_apt_retry() {
	_n=0
	until "$@"; do
		_n=$((_n + 1))
		[ $_n -ge 3 ] && return 1
		say "retrying in $((_n * 10)) s: $*"
		sleep $((_n * 10))
	done
}

# ef_host_install PKGS: installs the host packages PKGS (none: nothing) on
# this machine with its own apt, as root, unless EF_NO_APT_INSTALL=1.
ef_host_install() {
	[ -n "$(echo $1)" ] || return 0
	[ "${EF_NO_APT_INSTALL:-0}" = 1 ] && die "missing host packages: $1"
	[ "$(id -u)" = 0 ] || die "missing host packages: $1 (run as root or install them)"
	say "installing host packages: $1"
	apt-get install -y --no-install-recommends $1 >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends $1 >&2; }
}

# ef_apt_init APTD ARCH SUITE MIRROR KEYRING [SECURITY]: the private apt in
# APTD for ARCH (Debian's name: arm64, armhf); SECURITY=1 adds the
# SUITE-security suite. Sets EF_APT_OPTS (the options every apt call takes)
# and EF_APT_DIR.
ef_apt_init() {
	EF_APT_DIR=$1
	mkdir -p "$EF_APT_DIR/lists/partial" "$EF_APT_DIR/cache/archives/partial" "$EF_APT_DIR/debs"
	: >"$EF_APT_DIR/status"
	cat >"$EF_APT_DIR/debian.sources" <<EOF
Types: deb
URIs: $4
Suites: $3 $3-updates
Components: main
Signed-By: $5
EOF
	if [ "${6:-0}" = 1 ]; then
		cat >>"$EF_APT_DIR/debian.sources" <<EOF

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $3-security
Components: main
Signed-By: $5
EOF
	fi
	EF_APT_OPTS="-o Dir::Etc::sourcelist=$EF_APT_DIR/debian.sources -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists=$EF_APT_DIR/lists -o Dir::Cache=$EF_APT_DIR/cache
	-o Dir::State::status=$EF_APT_DIR/status -o APT::Architecture=$2
	-o APT::Architectures::=$2 -o Debug::NoLocking=1 -o APT::Sandbox::User=root"
}

# ef_apt_update: refreshes the lists at most once a day.
ef_apt_update() {
	[ -z "$(find "$EF_APT_DIR/updated" -mtime -1 2>/dev/null)" ] || return 0
	say "apt-get update"
	rm -f "$EF_APT_DIR/updated"
	ef_apt_retry apt-get $EF_APT_OPTS -qq -o APT::Update::Error-Mode=any update >&2 ||
		die "apt-get update failed (no route to the mirror?)"
	touch "$EF_APT_DIR/updated"
}

# ef_apt_resolve ROOTS STOP: prints ROOTS and their dependencies, breadth
# first over `apt-cache depends`: Depends and Pre-Depends only, the first
# alternative of an OR group, the first provider of a virtual package,
# never into STOP (and no package of STOP, even a root).
ef_apt_resolve() {
	_seen=" "
	for _p in $2; do _seen="$_seen$_p "; done
	_frontier=$1
	_all=""
	while [ -n "$(echo $_frontier)" ]; do
		_next=$(apt-cache $EF_APT_OPTS depends --no-recommends --no-suggests --no-conflicts \
			--no-breaks --no-replaces --no-enhances $_frontier 2>/dev/null | awk '
			/^[^ ]/ { next }
			/^ *\|?(Pre)?Depends:/ {
				if (skip) { skip = ($0 ~ /^ *\|/); want_provider = 0; next }
				skip = ($0 ~ /^ *\|/)   # an OR group: keep the first only
				if ($2 ~ /^</) { want_provider = 1; next }
				want_provider = 0; print $2; next
			}
			/^    [^ ]/ { if (want_provider) { print $1; want_provider = 0 } }
		' | sed 's/:.*//' | sort -u)
		for _p in $_frontier; do
			case "$_seen" in *" $_p "*) ;; *) _seen="$_seen$_p " ;; esac
			case " $_all " in *" $_p "*) ;; *) _all="$_all $_p" ;; esac
		done
		_frontier=""
		for _p in $_next; do
			case "$_seen" in *" $_p "*) ;; *) _frontier="$_frontier $_p" ;; esac
		done
	done
	for _p in $_all; do
		case " $(echo $2) " in *" $_p "*) ;; *) echo "$_p" ;; esac
	done
}

# ef_apt_unpack ARCH PKGS DEST: downloads what is not in APTD/debs yet and
# unpacks every package of PKGS into DEST with dpkg-deb -x.
ef_apt_unpack() {
	_missing=""
	for _p in $2; do
		ls "$EF_APT_DIR/debs/${_p}"_*_"$1".deb "$EF_APT_DIR/debs/${_p}"_*_all.deb \
			>/dev/null 2>&1 || _missing="$_missing $_p"
	done
	if [ -n "$_missing" ]; then
		say "apt-get download$_missing"
		(cd "$EF_APT_DIR/debs" && ef_apt_retry apt-get $EF_APT_OPTS -qq download $_missing >&2) ||
			die "apt-get download failed (no route to the mirror?)"
	fi
	for _p in $2; do
		for _deb in "$EF_APT_DIR/debs/${_p}"_*_"$1".deb "$EF_APT_DIR/debs/${_p}"_*_all.deb; do
			[ -f "$_deb" ] && dpkg-deb -x "$_deb" "$3"
		done
	done
	return 0
}
