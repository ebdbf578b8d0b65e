# shellcheck shell=bash
# A real HTTPS Git server for tests: nginx + fcgiwrap + git http-backend on a
# free loopback port, with a throw-away CA and server certificate (openssl,
# EC P-256, subjectAltName DNS:localhost,IP:127.0.0.1).
#
#   source tests/lib/git-server.sh
#   ef_git_server_start "$dir"      # exports EF_GIT_URL EF_GIT_CA EF_GIT_ROOT EF_GIT_PIDS
#                                   #   EF_GIT_AUTH_URL EF_GIT_TOKEN_FILE EF_GIT_ACCESS_LOG
#                                   #   EF_GIT_V0_URL EF_GIT_POST502_URL
#   url=$(ef_git_repo_create demo)  # bare repo $EF_GIT_ROOT/demo.git, pushable over HTTPS
#   ef_git_slow_server_start "$dir" # exports EF_SLOW_URL EF_SLOW_PID: TLS, then 1 byte/s
#   ef_git_redirect_server_start "$dir" # exports EF_REDIRECT_URL EF_REDIRECT_AUTH_LOG:
#                                   #   a second nginx whose every answer is a 302 to
#                                   #   another origin that logs Authorization headers
#   ef_git_server_stop              # stops only what these functions started, by PID
#
# URLs name the host "localhost" (nginx listens on 127.0.0.1): mbedTLS 2.28,
# under Debian's libgit2 1.5, does not match IP addresses against the
# certificate's IP subjectAltName, so https://127.0.0.1:PORT/ fails its
# host name check; git and curl accept both.
#
# Under EF_GIT_AUTH_URL (https://localhost:PORT/auth/) the same repositories
# are served only to requests carrying "Authorization: Basic
# base64(x-access-token:TOKEN)", where TOKEN is the content of
# EF_GIT_TOKEN_FILE; others get 401.
#
# Git protocol v2: git http-backend (2.39) takes the client's
# "Git-Protocol: version=2" header from the HTTP_GIT_PROTOCOL variable that
# nginx passes like any request header, so the server speaks v2 to clients
# that ask. Under EF_GIT_V0_URL (https://localhost:PORT/v0/) the same
# repositories are served by a server that only speaks protocol v0: the
# header is blanked before http-backend sees it. Under EF_GIT_POST502_URL
# (https://localhost:PORT/post502/) every POST gets 502 Bad Gateway (a
# passing fault of the server on ls-refs and fetches; listings work).
#
# Settings (environment, read by ef_git_server_start):
#   EF_GIT_KEEPALIVE_TIMEOUT   nginx keepalive_timeout (default 75s, nginx's own)
#   EF_GIT_KEEPALIVE_REQUESTS  nginx keepalive_requests (default 1000, nginx's own)
#   EF_GIT_WORKER_CONNECTIONS  nginx worker_connections (default 64; a fleet
#                              simulation keeps one connection per agent)
#   EF_GIT_FCGI_CHILDREN       fcgiwrap's preforked children (default 4)
#
# The access log (EF_GIT_ACCESS_LOG) has one line per request: connection
# serial, request number on it, method, URI, status, bytes sent, request
# length, and the time (unix seconds with milliseconds, $msec) last.
#
# nginx's workers run as an unprivileged user when started as root: the
# folder holding the fcgiwrap socket must be traversable by them (else 502).

EF_GIT_PIDS=${EF_GIT_PIDS:-}

_ef_git_die() {
	echo "git-server: $*" >&2
	return 1
}

_ef_free_port() {
	python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# Waits until a TCP port on 127.0.0.1 accepts connections (at most ~5 s).
_ef_wait_port() {
	local port=$1 pid=$2 i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# Makes a CA and a server certificate under DIR (ca.crt, server.crt, server.key).
ef_git_make_ca() {
	local dir=$1 name=${2:-edgeflip test CA}
	mkdir -p "$dir" || return 1
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null &&
		openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 2 -subj "/CN=$name" \
			-out "$dir/ca.crt" 2>/dev/null &&
		openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server.key" 2>/dev/null &&
		openssl req -new -key "$dir/server.key" -subj "/CN=localhost" \
			-out "$dir/server.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
			>"$dir/ext.cnf" &&
		openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
			-CAcreateserial -days 2 -sha256 -extfile "$dir/ext.cnf" \
			-out "$dir/server.crt" 2>/dev/null ||
		_ef_git_die "cannot make certificates in $dir"
}

# True when every folder from / down to $1 can be traversed by other users.
_ef_traversable() {
	local p
	p=$(readlink -f "$1") || return 1
	while [ -n "$p" ] && [ "$p" != / ]; do
		[ "$(($(stat -c '%a' "$p" | sed 's/^/0/') & 1))" -eq 1 ] || return 1
		p=${p%/*}
	done
	return 0
}

ef_git_server_start() {
	local dir=$1 port sock sockdir token b64 i nginx_pid fcgi_pid
	[ -n "$dir" ] || { _ef_git_die "usage: ef_git_server_start DIR"; return 1; }
	mkdir -p "$dir/ssl" "$dir/repos" "$dir/nginx/tmp" "$dir/run" || return 1
	dir=$(readlink -f "$dir")
	ef_git_make_ca "$dir/ssl" || return 1
	chmod 777 "$dir/nginx/tmp"

	# The fcgiwrap socket must be reachable by nginx's unprivileged workers.
	chmod 755 "$dir" "$dir/run"
	sockdir="$dir/run"
	if ! _ef_traversable "$sockdir"; then
		sockdir=$(mktemp -d /tmp/ef-git-sock.XXXXXX) || return 1
		chmod 755 "$sockdir"
		echo "$sockdir" >"$dir/run/sockdir"
	fi
	sock="$sockdir/fcgiwrap.sock"
	rm -f "$sock"

	token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	printf '%s\n' "$token" >"$dir/token"
	chmod 600 "$dir/token"
	b64=$(printf 'x-access-token:%s' "$token" | base64 -w0)

	(
		umask 000
		exec fcgiwrap -c "${EF_GIT_FCGI_CHILDREN:-4}" -s "unix:$sock" </dev/null >>"$dir/nginx/fcgiwrap.log" 2>&1
	) &
	fcgi_pid=$!
	EF_GIT_PIDS="$EF_GIT_PIDS $fcgi_pid"
	for i in $(seq 1 100); do
		[ -S "$sock" ] && break
		sleep 0.02
	done
	[ -S "$sock" ] || { _ef_git_die "fcgiwrap did not create $sock"; return 1; }

	for i in 1 2 3; do
		port=$(_ef_free_port)
		cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log info;
events { worker_connections ${EF_GIT_WORKER_CONNECTIONS:-64}; }
http {
	access_log off;
	log_format ef '\$connection \$connection_requests \$request_method \$uri \$status \$bytes_sent \$request_length \$msec';
	client_body_temp_path $dir/nginx/tmp/body;
	proxy_temp_path $dir/nginx/tmp/proxy;
	fastcgi_temp_path $dir/nginx/tmp/fastcgi;
	uwsgi_temp_path $dir/nginx/tmp/uwsgi;
	scgi_temp_path $dir/nginx/tmp/scgi;
	keepalive_timeout ${EF_GIT_KEEPALIVE_TIMEOUT:-75s};
	keepalive_requests ${EF_GIT_KEEPALIVE_REQUESTS:-1000};
	client_max_body_size 0;
	# Pushes keep their bodies in memory: the unprivileged workers could
	# not write to temp folders that root made.
	client_body_buffer_size 64m;
	server {
		listen 127.0.0.1:$port ssl;
		server_name localhost;
		ssl_certificate $dir/ssl/server.crt;
		ssl_certificate_key $dir/ssl/server.key;
		access_log $dir/nginx/access.log ef;
		location /auth/ {
			if (\$http_authorization != "Basic $b64") {
				add_header WWW-Authenticate 'Basic realm="git"' always;
				return 401;
			}
			rewrite ^/auth(/.*)\$ \$1 break;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $dir/repos;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$uri;
			fastcgi_pass unix:$sock;
		}
		location /v0/ {
			rewrite ^/v0(/.*)\$ \$1 break;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $dir/repos;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$uri;
			fastcgi_param HTTP_GIT_PROTOCOL "";
			fastcgi_pass unix:$sock;
		}
		location /post502/ {
			if (\$request_method = POST) {
				return 502;
			}
			rewrite ^/post502(/.*)\$ \$1 break;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $dir/repos;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$uri;
			fastcgi_pass unix:$sock;
		}
		location / {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $dir/repos;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$uri;
			fastcgi_pass unix:$sock;
		}
	}
}
EOF
		nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx/" </dev/null >>"$dir/nginx/stdout.log" 2>&1 &
		nginx_pid=$!
		if _ef_wait_port "$port" "$nginx_pid"; then
			EF_GIT_PIDS="$EF_GIT_PIDS $nginx_pid"
			break
		fi
		kill "$nginx_pid" 2>/dev/null
		wait "$nginx_pid" 2>/dev/null
		nginx_pid=
	done
	if [ -z "$nginx_pid" ]; then
		echo "git-server: nginx did not start; its error log:" >&2
		cat "$dir/nginx/error.log" "$dir/nginx/stdout.log" >&2 2>/dev/null
		ef_git_server_stop
		return 1
	fi

	export EF_GIT_DIR="$dir"
	export EF_GIT_URL="https://localhost:$port/"
	export EF_GIT_AUTH_URL="https://localhost:$port/auth/"
	export EF_GIT_V0_URL="https://localhost:$port/v0/"
	export EF_GIT_POST502_URL="https://localhost:$port/post502/"
	export EF_GIT_PORT="$port"
	export EF_GIT_CA="$dir/ssl/ca.crt"
	export EF_GIT_ROOT="$dir/repos"
	export EF_GIT_TOKEN_FILE="$dir/token"
	export EF_GIT_ACCESS_LOG="$dir/nginx/access.log"
	export EF_GIT_PIDS
}

# Creates the bare repository $EF_GIT_ROOT/NAME.git (pushable, HEAD -> main) and
# prints its URL.
ef_git_repo_create() {
	local name=$1 repo
	[ -n "$EF_GIT_ROOT" ] || { _ef_git_die "start the server first"; return 1; }
	repo="$EF_GIT_ROOT/$name.git"
	git init -q --bare "$repo" &&
		git -C "$repo" symbolic-ref HEAD refs/heads/main &&
		git -C "$repo" config http.receivepack true &&
		git -C "$repo" config receive.denyNonFastForwards false ||
		{ _ef_git_die "cannot create $repo"; return 1; }
	echo "${EF_GIT_URL}$name.git"
}

# git with the fixture's CA, for pushing from tests.
ef_git() {
	GIT_SSL_CAINFO="$EF_GIT_CA" GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
		git -c user.name=test -c user.email=test@example.com \
		-c init.defaultBranch=main "$@"
}

# A second nginx (after ef_git_server_start): EF_REDIRECT_URL
# (https://localhost:R/auth/) answers every request with 302 to the same path
# on another host (https://127.0.0.1:C/: libgit2 counts another port of the
# same host name as the same site), which logs each request's
# Authorization header to EF_REDIRECT_AUTH_LOG and serves the repositories
# like EF_GIT_AUTH_URL does. A client that follows the redirect with its token
# leaves the token in that log.
ef_git_redirect_server_start() {
	local dir=$1 rport cport sock b64 pid
	[ -n "${EF_GIT_DIR:-}" ] || { _ef_git_die "start the git server first"; return 1; }
	mkdir -p "$dir/tmp" || return 1
	dir=$(readlink -f "$dir")
	chmod 777 "$dir/tmp"
	sock="$EF_GIT_DIR/run/fcgiwrap.sock"
	[ -f "$EF_GIT_DIR/run/sockdir" ] && sock="$(cat "$EF_GIT_DIR/run/sockdir")/fcgiwrap.sock"
	b64=$(printf 'x-access-token:%s' "$(cat "$EF_GIT_TOKEN_FILE")" | base64 -w0)
	# The other host's certificate, from the fixture's CA. mbedTLS 2.28
	# matches the host name "127.0.0.1" against DNS names only.
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/other.key" 2>/dev/null &&
		openssl req -new -key "$dir/other.key" -subj "/CN=127.0.0.1" -out "$dir/other.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/other.cnf" &&
		openssl x509 -req -in "$dir/other.csr" -CA "$EF_GIT_DIR/ssl/ca.crt" \
			-CAkey "$EF_GIT_DIR/ssl/ca.key" -CAcreateserial -days 2 -sha256 \
			-extfile "$dir/other.cnf" -out "$dir/other.crt" 2>/dev/null ||
		{ _ef_git_die "cannot make the other host's certificate"; return 1; }
	rport=$(_ef_free_port)
	cport=$(_ef_free_port)
	cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	log_format auth '\$request_method \$uri authorization=[\$http_authorization]';
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	client_body_buffer_size 64m;
	server {
		listen 127.0.0.1:$rport ssl;
		server_name localhost;
		ssl_certificate $EF_GIT_DIR/ssl/server.crt;
		ssl_certificate_key $EF_GIT_DIR/ssl/server.key;
		location / {
			return 302 https://127.0.0.1:$cport\$request_uri;
		}
	}
	server {
		listen 127.0.0.1:$cport ssl;
		server_name 127.0.0.1;
		ssl_certificate $dir/other.crt;
		ssl_certificate_key $dir/other.key;
		access_log $dir/auth.log auth;
		location /auth/ {
			if (\$http_authorization != "Basic $b64") {
				add_header WWW-Authenticate 'Basic realm="git"' always;
				return 401;
			}
			rewrite ^/auth(/.*)\$ \$1 break;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $EF_GIT_ROOT;
			fastcgi_param GIT_HTTP_EXPORT_ALL "";
			fastcgi_param PATH_INFO \$uri;
			fastcgi_pass unix:$sock;
		}
	}
}
EOF
	touch "$dir/auth.log"
	nginx -c "$dir/nginx.conf" -p "$dir/" </dev/null >>"$dir/stdout.log" 2>&1 &
	pid=$!
	if ! _ef_wait_port "$rport" "$pid" || ! _ef_wait_port "$cport" "$pid"; then
		cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null
		kill "$pid" 2>/dev/null
		return 1
	fi
	EF_GIT_PIDS="$EF_GIT_PIDS $pid"
	export EF_GIT_PIDS
	export EF_REDIRECT_URL="https://localhost:$rport/auth/"
	export EF_REDIRECT_AUTH_LOG="$dir/auth.log"
}

# A server that accepts connections and then answers one byte per second, to
# test deadlines. MODE tls (default): completes the TLS handshake with the
# fixture's certificate, reads the request, then trickles an HTTP answer.
# MODE raw: plain TCP, trickles the header of a large TLS record so that the
# handshake itself never ends. Each connection gets at most 120 bytes.
ef_git_slow_server_start() {
	local dir=$1 mode=${2:-tls} port
	[ -n "$dir" ] || { _ef_git_die "usage: ef_git_slow_server_start DIR [tls|raw]"; return 1; }
	mkdir -p "$dir" || return 1
	dir=$(readlink -f "$dir")
	[ -f "$dir/ssl/server.crt" ] || ef_git_make_ca "$dir/ssl" || return 1
	port=$(_ef_free_port)
	cat >"$dir/slow-server.py" <<'EOF'
import socket, ssl, sys, threading, time
port, mode, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n"
          b"Content-Length: 1000\r\n\r\n001e# service=git-upload-pack\n0000" + b"x" * 200)
raw = b"\x16\x03\x03\x40\x00" + b"\x00" * 200

def serve(conn):
    try:
        conn.settimeout(130)
        data = raw
        if mode == "tls":
            conn = ctx.wrap_socket(conn, server_side=True)
            req = b""
            while b"\r\n\r\n" not in req and len(req) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                req += chunk
            data = answer
        for b in data[:120]:
            conn.sendall(bytes([b]))
            time.sleep(1)
    except Exception:
        pass
    finally:
        conn.close()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)
srv.settimeout(1)
end = time.time() + 900  # never outlive a test run by much
while time.time() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
	python3 "$dir/slow-server.py" "$port" "$mode" "$dir/ssl/server.crt" "$dir/ssl/server.key" \
		</dev/null >>"$dir/slow-server.log" 2>&1 &
	EF_SLOW_PID=$!
	if ! _ef_wait_port "$port" "$EF_SLOW_PID"; then
		cat "$dir/slow-server.log" >&2
		_ef_git_die "the slow server did not start"
		return 1
	fi
	export EF_SLOW_PID
	export EF_SLOW_URL="https://localhost:$port/slow.git"
	export EF_SLOW_CA="$dir/ssl/ca.crt"
}

ef_git_slow_server_stop() {
	if [ -n "${EF_SLOW_PID:-}" ]; then
		kill "$EF_SLOW_PID" 2>/dev/null
		wait "$EF_SLOW_PID" 2>/dev/null
	fi
	EF_SLOW_PID=
}

ef_git_server_stop() {
	local pid
	ef_git_slow_server_stop
	for pid in $EF_GIT_PIDS; do
		# fcgiwrap's preforked children do not leave with their parent.
		kill $(pgrep -P "$pid" 2>/dev/null) "$pid" 2>/dev/null
	done
	for pid in $EF_GIT_PIDS; do
		wait "$pid" 2>/dev/null
	done
	EF_GIT_PIDS=
	if [ -n "${EF_GIT_DIR:-}" ] && [ -f "$EF_GIT_DIR/run/sockdir" ]; then
		rm -rf "$(cat "$EF_GIT_DIR/run/sockdir")"
		rm -f "$EF_GIT_DIR/run/sockdir"
	fi
	return 0
}
