# scripts/mariadb.sh — sourced by scripts/test.sh: makes sure a MariaDB
# server (10.5 or newer) is reachable and exports SQLAUDIT_MYSQL_DSN for it,
# a go-sql-driver DSN without a database ("root@tcp(127.0.0.1:3306)/").
#
# Discovery, first that works wins:
#   a) $SQLAUDIT_MYSQL_DSN, if set (used unchecked: it is a Go driver DSN);
#   b) a server on 127.0.0.1:3306 that accepts root without a password;
#   c) the machine's own mariadbd, started with start-stop-daemon if it is
#      installed and not running (root only), if it then accepts root;
#   d) a throwaway server: mariadb-install-db into a mktemp -d directory,
#      started on a free port >= 53306 on 127.0.0.1, stopped and removed when
#      test.sh exits. If mariadbd is missing and we are root with apt-get, the
#      Debian "mariadb-server" package is installed first.
#
# Environment: SQLAUDIT_MYSQL_DSN (see a); SQLAUDIT_FORCE_THROWAWAY=1 skips
# a)-c) as it does for PostgreSQL.

MY_THROWAWAY_DIR=""
MY_THROWAWAY_PID=""

my_client() {
	if have mariadb; then echo mariadb; elif have mysql; then echo mysql; else return 1; fi
}

# Does root log in without a password on 127.0.0.1:$1?
my_login_ok() {
	local client
	client=$(my_client) || { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; return; }
	"$client" --protocol=TCP -h 127.0.0.1 -P "$1" -u root --connect-timeout=3 -e 'SELECT 1' >/dev/null 2>&1
}

my_wait_login() {
	local port=$1 i
	for i in $(seq 1 30); do
		my_login_ok "$port" && return 0
		sleep 1
	done
	return 1
}

# shellcheck disable=SC2317 # called from test.sh's cleanup trap
my_cleanup() {
	if [ -n "$MY_THROWAWAY_PID" ] && kill -0 "$MY_THROWAWAY_PID" 2>/dev/null; then
		log "stopping throwaway MariaDB in $MY_THROWAWAY_DIR"
		kill -TERM "$MY_THROWAWAY_PID" 2>/dev/null
		wait "$MY_THROWAWAY_PID" 2>/dev/null || true
	fi
	if [ -n "$MY_THROWAWAY_DIR" ] && [ -d "$MY_THROWAWAY_DIR" ]; then
		rm -rf "$MY_THROWAWAY_DIR"
	fi
}

my_find() { # the server binary
	local b
	for b in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
		if [ -x "$b" ] || have "$b"; then
			command -v "$b" 2>/dev/null || echo "$b"
			return 0
		fi
	done
	return 1
}

my_try_running() {
	my_login_ok 3306 || return 1
	MY_DSN="root@tcp(127.0.0.1:3306)/" MY_SOURCE="server already running on 127.0.0.1:3306"
}

my_try_start_local() {
	local bin
	[ "$(id -u)" = 0 ] && have start-stop-daemon || return 1
	bin=$(my_find) || return 1
	[ -d /var/lib/mysql/mysql ] || return 1 # not initialised: use a throwaway
	log "starting the machine's MariaDB ($bin)"
	start-stop-daemon --start --oknodo --background --exec "$bin" >&2 || return 1
	my_wait_login 3306 || { log "the machine's MariaDB does not accept root without a password on 127.0.0.1:3306"; return 1; }
	MY_DSN="root@tcp(127.0.0.1:3306)/" MY_SOURCE="the machine's MariaDB (started by this script, left running)"
}

my_start_throwaway() {
	local bin install port dir user=()
	if ! bin=$(my_find); then
		if [ "$(id -u)" = 0 ] && have apt-get; then
			log "MariaDB not found; installing it with apt-get (this takes a while)"
			apt-get update -q >&2 || die "apt-get update failed"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2 || die "apt-get install mariadb-server failed"
			bin=$(my_find) || die "mariadb-server installed but mariadbd still not found"
		else
			die "no MariaDB available: SQLAUDIT_MYSQL_DSN unset, nothing on 127.0.0.1:3306 and mariadbd not found. Install MariaDB 10.5+ (apt-get install mariadb-server) or set SQLAUDIT_MYSQL_DSN."
		fi
	fi
	install=$(command -v mariadb-install-db || command -v mysql_install_db) || die "found $bin but no mariadb-install-db"
	dir=$(mktemp -d /tmp/sqlaudit-mariadb.XXXXXX)
	MY_THROWAWAY_DIR=$dir
	if [ "$(id -u)" = 0 ]; then
		chown mysql "$dir" 2>/dev/null && user=(--user=mysql)
	fi
	port=53306
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	log "creating throwaway MariaDB in $dir (port $port)"
	"$install" "${user[@]}" --datadir="$dir/data" --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 ||
		{ cat "$dir/install.log" >&2; die "mariadb-install-db failed (log above)"; }
	"$bin" --no-defaults "${user[@]}" --datadir="$dir/data" --socket="$dir/sock" --port="$port" --bind-address=127.0.0.1 \
		--pid-file="$dir/pid" --innodb-flush-log-at-trx-commit=2 --log-error="$dir/error.log" &
	MY_THROWAWAY_PID=$!
	my_wait_login "$port" || { cat "$dir/error.log" >&2; die "throwaway MariaDB did not accept root on port $port"; }
	MY_DSN="root@tcp(127.0.0.1:$port)/" MY_SOURCE="throwaway server in $dir (removed on exit)"
}

MY_DSN="" MY_SOURCE=""
if [ "${SQLAUDIT_FORCE_THROWAWAY:-}" = 1 ]; then
	my_start_throwaway
elif [ -n "${SQLAUDIT_MYSQL_DSN:-}" ]; then
	MY_DSN=$SQLAUDIT_MYSQL_DSN MY_SOURCE="from SQLAUDIT_MYSQL_DSN (unchecked)"
elif my_try_running || my_try_start_local; then
	:
else
	my_start_throwaway
fi
export SQLAUDIT_MYSQL_DSN=$MY_DSN
log "using MariaDB: $MY_DSN — $MY_SOURCE"
