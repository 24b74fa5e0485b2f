#!/usr/bin/env bash
# scripts/test.sh — the sqlaudit test command.
#
# Makes sure a PostgreSQL server is reachable (the "primary" one, found as
# below), a PostgreSQL 18 server too (scripts/pg18.sh), and MariaDB
# (SQLAUDIT_MYSQL_DSN, scripts/mariadb.sh), then runs
#   go test -race -count=1 -timeout "$SQLAUDIT_TEST_TIMEOUT" -tags sqlaudit_ncruces \
#     -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName= <packages> [args...]
# with SQLAUDIT_PG_URL set to the server of each phase.
#
# NATS JetStream (the relay and gather tests, ./relay ./gather
# ./cmd/sqlaudit) needs nothing from this script: the tests start their own
# servers, single nodes and a three-node cluster on free loopback ports,
# from the github.com/nats-io/nats-server/v2 module embedded in the test
# binary (go.mod's version; Debian's nats-server package, 2.9, is older
# than the atomic batch publish the relay needs). They never use a NATS
# already running on 4222.
#
# A full run (no arguments) has two phases, each ./... and then integration/:
#   1. every test, all drivers, on the primary PostgreSQL (15 on this
#      project's machines);
#   2. the PostgreSQL drivers only (SQLAUDIT_DRIVERS=audit-pgx,audit-postgres:
#      the test helpers skip the SQLite and MariaDB drivers) on PostgreSQL 18.
# Both phases run even if the first fails; the exit status is 0 only if both pass.
#
# Usage:
#   ./scripts/test.sh                      # full run: both phases
#   ./scripts/test.sh -run TestX -v        # extra go test flags, appended after ./...
#   ./scripts/test.sh ./auditpq -run TestX # first arg not a flag: it and the rest
#                                          # replace ./... (go test [packages] [flags])
# A run with arguments uses the primary server only, unless SQLAUDIT_PG18 says
# otherwise (all drivers in either case).
#
# PostgreSQL discovery, first that works wins:
#   a) $SQLAUDIT_PG_URL, if set and the server answers (waits up to
#      $SQLAUDIT_PG_WAIT seconds, default 10);
#   b) a server on localhost:5432 that accepts user postgres without a password;
#   c) an existing Debian cluster (pg_lsclusters), started with pg_ctlcluster if
#      down, if it accepts user postgres without a password over TCP;
#   d) a throwaway cluster: initdb (trust auth, user postgres) into a mktemp -d
#      directory, started on a free port >= 55432 on 127.0.0.1, stopped and
#      removed when this script exits. If initdb is missing and we are root with
#      apt-get, the Debian "postgresql" package is installed first. As root the
#      cluster runs as the system user "sqlaudit" (created if missing).
#
# Environment:
#   SQLAUDIT_PG_URL            PostgreSQL URL to use (step a); always exported to go test
#                              (in phase 2 it is the PostgreSQL 18 server's).
#   SQLAUDIT_PG_WAIT           seconds to wait for a given URL to answer (default 10).
#   SQLAUDIT_PG18_URL, SQLAUDIT_PG18_VERSION, SQLAUDIT_PG18_CACHE
#                              the PostgreSQL 18 server: see scripts/pg18.sh.
#   SQLAUDIT_PG18=also|only    a run with arguments runs them on the primary
#                              server and then on PostgreSQL 18 (also), or on 18
#                              alone (only); unset: primary only. A full run
#                              always has both phases.
#   SQLAUDIT_TEST_TIMEOUT      go test -timeout (default 30m).
#   SQLAUDIT_FORCE_THROWAWAY=1 skip a)-c) and always use a throwaway cluster
#                              (for testing this script, or for isolation);
#                              for PostgreSQL 18 it skips SQLAUDIT_PG18_URL.
#
# Exit status: 0 if every go test passed, else 1 (with a message naming the
# failed phase), or 1 if a server could not be had.

set -euo pipefail

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
	printf 'test.sh: ERROR: %s\n' "$*" >&2
	exit 1
}

# Run from the repository root, wherever we are called from.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd -P)

# --- go ----------------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH="/usr/local/go/bin:$PATH"
	else
		die "'go' not found in PATH (nor /usr/local/go/bin). Install Go 1.26+ (https://go.dev/dl/) and put it on PATH."
	fi
fi

# --- helpers -----------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }

# Hide a password in a URL before printing it.
mask_url() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

# Does a server answer at URL? (reachability only, no auth check)
pg_answers_url() {
	local url=$1
	if have pg_isready; then
		pg_isready -q -t 5 -d "$url" >/dev/null 2>&1
	elif have psql; then
		# Without pg_isready a failed login still proves nothing; treat any
		# psql success as "answers", auth is checked separately.
		PGCONNECT_TIMEOUT=5 psql -X -w -q -At -d "$url" -c 'SELECT 1' >/dev/null 2>&1
	else
		return 2 # cannot tell
	fi
}

# Does a server answer on host:port?
pg_answers_hostport() {
	local host=$1 port=$2
	if have pg_isready; then
		pg_isready -q -t 3 -h "$host" -p "$port" >/dev/null 2>&1
	else
		(exec 3<>"/dev/tcp/$host/$port") >/dev/null 2>&1
	fi
}

# Can we log in at URL and run a query? Falls back to reachability if no psql.
pg_login_ok() {
	local url=$1
	if have psql; then
		PGCONNECT_TIMEOUT=5 psql -X -w -q -At -d "$url" -c 'SELECT 1' >/dev/null 2>&1
	else
		pg_answers_url "$url"
	fi
}

pg_server_version() {
	have psql || return 0
	PGCONNECT_TIMEOUT=5 psql -X -w -q -At -d "$1" -c 'SHOW server_version' 2>/dev/null || true
}

pg_server_version_num() {
	have psql || return 0
	PGCONNECT_TIMEOUT=5 psql -X -w -q -At -d "$1" -c 'SHOW server_version_num' 2>/dev/null || true
}

# --- cleanup -----------------------------------------------------------------
# Throwaway clusters (PostgreSQL 15 and 18 alike) are registered here by
# start_cluster and stopped and removed when the script exits.
THROWAWAY_DIRS=()
THROWAWAY_PGCTLS=()
GO_PID=""
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	local rc=$?
	set +e
	if [ -n "$GO_PID" ] && kill -0 "$GO_PID" 2>/dev/null; then
		# Interrupted while go test runs: stop it (its own process group) first.
		log "stopping go test"
		kill -TERM -- "-$GO_PID" 2>/dev/null || kill -TERM "$GO_PID" 2>/dev/null
		wait "$GO_PID" 2>/dev/null
	fi
	local i dir
	for i in "${!THROWAWAY_DIRS[@]}"; do
		dir=${THROWAWAY_DIRS[$i]}
		[ -d "$dir" ] || continue
		if [ -f "$dir/data/postmaster.pid" ]; then
			log "stopping throwaway PostgreSQL in $dir"
			as_pg_user "${THROWAWAY_PGCTLS[$i]}" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1
		fi
		rm -rf "$dir"
	done
	if declare -F my_cleanup >/dev/null; then
		my_cleanup
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- (a) a URL from the environment ------------------------------------------
# check_env_url NAME: is the URL in variable NAME set and usable? On success
# sets FOUND_URL and FOUND_SOURCE.
check_env_url() {
	local name=$1
	local url=${!name:-} wait=${SQLAUDIT_PG_WAIT:-10} i=0 st=0
	[ -n "$url" ] || return 1
	[[ $wait =~ ^[0-9]+$ ]] || wait=10
	if ! have pg_isready && ! have psql; then
		log "WARNING: neither pg_isready nor psql found; using $name unchecked"
		FOUND_URL=$url FOUND_SOURCE="from $name (unchecked)"
		return 0
	fi
	log "checking $name=$(mask_url "$url") (waiting up to ${wait}s)"
	while :; do
		st=0
		pg_answers_url "$url" || st=$?
		[ "$st" -ne 0 ] || break
		if [ "$st" -eq 3 ] && have pg_isready; then
			# pg_isready made no attempt: libpq cannot parse the URL (e.g. it
			# has parameters only the Go drivers know). Trust the user.
			log "WARNING: libpq cannot parse $name (driver-specific parameters?); using it unchecked"
			FOUND_URL=$url FOUND_SOURCE="from $name (unchecked)"
			return 0
		fi
		i=$((i + 1))
		if [ "$i" -ge "$wait" ]; then
			log "WARNING: $name=$(mask_url "$url") does not answer; trying other servers"
			return 1
		fi
		sleep 1
	done
	if ! pg_login_ok "$url"; then
		log "WARNING: $name=$(mask_url "$url") answers but login/query failed; trying other servers"
		return 1
	fi
	FOUND_URL=$url FOUND_SOURCE="from $name"
}

try_env_url() {
	check_env_url SQLAUDIT_PG_URL || return 1
	PG_URL=$FOUND_URL PG_SOURCE=$FOUND_SOURCE
}

# --- (b) localhost:5432 ------------------------------------------------------
try_localhost() {
	local url="postgres://postgres@localhost:5432/postgres?sslmode=disable"
	pg_answers_hostport localhost 5432 || return 1
	if ! pg_login_ok "$url"; then
		log "a server answers on localhost:5432 but user postgres cannot log in without a password; skipping it"
		return 1
	fi
	PG_URL=$url PG_SOURCE="server already running on localhost:5432"
}

# --- (c) existing Debian cluster ---------------------------------------------
try_debian_cluster() {
	have pg_lsclusters || return 1
	local ver name port status rest url started
	while read -r ver name port status rest; do
		[ -n "$ver" ] || continue
		url="postgres://postgres@localhost:$port/postgres?sslmode=disable"
		started=0
		if [[ $status != online* ]]; then
			have pg_ctlcluster || continue
			log "starting Debian cluster $ver/$name (port $port)"
			if ! pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >&2; then
				log "could not start Debian cluster $ver/$name; skipping it"
				continue
			fi
			started=1
			local i
			for i in 1 2 3 4 5 6 7 8 9 10; do
				pg_answers_hostport localhost "$port" && break
				sleep 1
			done
		fi
		if pg_login_ok "$url"; then
			PG_URL=$url PG_SOURCE="Debian cluster $ver/$name"
			if [ "$started" = 1 ]; then
				PG_SOURCE="$PG_SOURCE (started by this script, left running)"
			fi
			return 0
		fi
		log "Debian cluster $ver/$name (port $port): user postgres cannot log in over TCP without a password; skipping it"
		if [ "$started" = 1 ]; then
			log "stopping Debian cluster $ver/$name again"
			pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop >&2 || true
		fi
	done < <(pg_lsclusters -h 2>/dev/null || true)
	return 1
}

# --- (d) throwaway cluster ---------------------------------------------------
PG_RUN_USER=""
# Run a command as the unprivileged cluster owner (root), or directly (non-root).
as_pg_user() {
	if [ -z "$PG_RUN_USER" ]; then
		"$@"
	elif have runuser; then
		runuser -u "$PG_RUN_USER" -- "$@"
	else
		su "$PG_RUN_USER" -s /bin/sh -c "$(printf '%q ' "$@")"
	fi
}

# As root, initdb and postgres refuse to run: the clusters belong to the
# system user "sqlaudit", created if missing.
ensure_pg_run_user() {
	[ "$(id -u)" = 0 ] || return 0
	PG_RUN_USER=sqlaudit
	if ! id -u "$PG_RUN_USER" >/dev/null 2>&1; then
		log "creating system user '$PG_RUN_USER' to own the throwaway clusters"
		useradd -r -m -s /bin/sh "$PG_RUN_USER" >&2 || die "useradd $PG_RUN_USER failed (initdb cannot run as root)"
	fi
}

find_initdb() {
	local c
	if have initdb; then
		command -v initdb
		return 0
	fi
	# Newest version first.
	c=$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V -r |
		while read -r f; do [ -x "$f" ] && echo "$f" && break; done || true)
	[ -n "$c" ] || return 1
	echo "$c"
}

free_port() {
	local p
	for ((p = 55432; p < 55632; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_cluster INITDB PGCTL: initdb (trust auth, user postgres) into a fresh
# mktemp -d directory and start it on a free port on 127.0.0.1; the cluster is
# stopped and removed on exit. Sets CLUSTER_URL and CLUSTER_DIR.
start_cluster() {
	local initdb=$1 pgctl=$2 port dir url
	ensure_pg_run_user
	if [ -n "$PG_RUN_USER" ]; then
		dir=$(mktemp -d /tmp/sqlaudit-pg.XXXXXX)
		chown "$PG_RUN_USER" "$dir"
	else
		dir=$(mktemp -d "${TMPDIR:-/tmp}/sqlaudit-pg.XXXXXX")
	fi
	chmod 700 "$dir"
	THROWAWAY_DIRS+=("$dir")
	THROWAWAY_PGCTLS+=("$pgctl")

	port=$(free_port) || die "no free TCP port in 55432-55631 for a throwaway PostgreSQL"
	log "creating throwaway PostgreSQL cluster with $initdb in $dir (port $port)"
	if ! (cd "$dir" && as_pg_user "$initdb" -D "$dir/data" --auth=trust --username=postgres \
		--encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1); then
		cat "$dir/initdb.log" >&2 || true
		die "initdb failed (log above)"
	fi
	if ! (cd "$dir" && as_pg_user "$pgctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-k '$dir' -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
		start >/dev/null 2>&1); then
		cat "$dir/postgres.log" >&2 || true
		die "pg_ctl start failed (server log above)"
	fi
	url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	if ! pg_login_ok "$url"; then
		cat "$dir/postgres.log" >&2 || true
		die "throwaway PostgreSQL started but cannot connect to $url"
	fi
	CLUSTER_URL=$url CLUSTER_DIR=$dir
}

start_throwaway() {
	local initdb pgctl bindir
	if ! initdb=$(find_initdb); then
		if [ "$(id -u)" = 0 ] && have apt-get; then
			log "initdb not found; installing PostgreSQL with apt-get (this takes a while)"
			apt-get update -q >&2 || die "apt-get update failed"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 ||
				die "apt-get install postgresql failed"
			initdb=$(find_initdb) || die "postgresql installed but initdb still not found (looked in PATH and /usr/lib/postgresql/*/bin)"
		else
			die "no PostgreSQL available: SQLAUDIT_PG_URL unset/unreachable, nothing on localhost:5432, no usable Debian cluster, and initdb not found (PATH, /usr/lib/postgresql/*/bin). Install PostgreSQL (e.g. apt-get install postgresql) or set SQLAUDIT_PG_URL."
		fi
	fi
	bindir=$(dirname "$initdb")
	if [ -x "$bindir/pg_ctl" ]; then
		pgctl=$bindir/pg_ctl
	elif have pg_ctl; then
		pgctl=$(command -v pg_ctl)
	else
		die "found $initdb but no pg_ctl next to it or in PATH"
	fi
	start_cluster "$initdb" "$pgctl"
	PG_URL=$CLUSTER_URL PG_SOURCE="throwaway cluster in $CLUSTER_DIR (removed on exit)"
}

# --- discovery ---------------------------------------------------------------
PG_URL="" PG_SOURCE=""
if [ "${SQLAUDIT_FORCE_THROWAWAY:-}" = 1 ]; then
	log "SQLAUDIT_FORCE_THROWAWAY=1: skipping SQLAUDIT_PG_URL, localhost:5432 and Debian clusters"
	start_throwaway
elif try_env_url || try_localhost || try_debian_cluster; then
	:
else
	start_throwaway
fi
[ -n "$PG_URL" ] || die "no PostgreSQL server could be found or started"
PG_VERSION=$(pg_server_version "$PG_URL")
log "primary PostgreSQL${PG_VERSION:+ $PG_VERSION}: $(mask_url "$PG_URL") — $PG_SOURCE"

# --- what runs where ---------------------------------------------------------
# A phase is a server, a driver filter and the go test arguments; a full run
# is the whole suite on the primary server and the PostgreSQL drivers on 18.
full_run=0
[ "$#" -gt 0 ] || full_run=1
on_primary=1 on_pg18=1
if [ "$full_run" -eq 0 ]; then
	case ${SQLAUDIT_PG18:-} in
	"") on_pg18=0 ;;
	also) ;;
	only) on_primary=0 ;;
	*) die "SQLAUDIT_PG18=$SQLAUDIT_PG18: want 'also' or 'only' (or unset)" ;;
	esac
fi

# --- PostgreSQL 18 -----------------------------------------------------------
if [ "$on_pg18" -eq 1 ]; then
	# shellcheck source=scripts/pg18.sh
	. "$REPO_ROOT/scripts/pg18.sh"
	pg18_setup
	log "PostgreSQL 18 server${PG18_VERSION:+ $PG18_VERSION}: $(mask_url "$PG18_URL") — $PG18_SOURCE"
fi

# --- MariaDB (audit-mysql) ---------------------------------------------------
# shellcheck source=scripts/mariadb.sh
. "$REPO_ROOT/scripts/mariadb.sh"
. "$REPO_ROOT/scripts/chromium.sh" # the browser tests' Chromium (SQLAUDIT_CHROMIUM)

# --- go test -----------------------------------------------------------------
timeout=${SQLAUDIT_TEST_TIMEOUT:-30m}
# The tag sqlaudit_ncruces adds the ncruces/go-sqlite3 driver to the root
# package's SQLite drivers; its driver registers the name "sqlite3", as
# mattn/go-sqlite3 does, so the -X leaves ncruces's registration out
# (sqlite_ncruces_test.go registers it under a name of its own).
ncruces=(-tags sqlaudit_ncruces -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName=)
if [ "$full_run" -eq 0 ] && [[ $1 != -* ]]; then
	gotest=(go test -race -count=1 -timeout "$timeout" "${ncruces[@]}" "$@")
else
	gotest=(go test -race -count=1 -timeout "$timeout" "${ncruces[@]}" ./... "$@")
fi

# run_go DIR: the go test command in DIR, in the background and in its own
# process group, so that a signal to this script (e.g. a CI timeout) runs the
# cleanup trap at once and stops the whole go test tree before the throwaway
# clusters are removed.
run_go() {
	local rc=0
	log "running (in $1): SQLAUDIT_PG_URL=$(mask_url "$SQLAUDIT_PG_URL") SQLAUDIT_DRIVERS=${SQLAUDIT_DRIVERS:-} ${gotest[*]}"
	set -m
	(cd "$1" && exec "${gotest[@]}") &
	GO_PID=$!
	set +m
	wait "$GO_PID" || rc=$?
	GO_PID=""
	return "$rc"
}

# phase NAME URL DRIVERS: the go test command on server URL with the driver
# filter DRIVERS ("" = all drivers); a full run adds the ORM module
# (integration/, its own go.mod so that the library's carries no ORM).
failed=() summary=()
phase() {
	local name=$1 start rc=0
	export SQLAUDIT_PG_URL=$2 SQLAUDIT_DRIVERS=$3
	log "=== phase: $name"
	start=$(date +%s)
	run_go "$REPO_ROOT" || rc=$?
	if [ "$full_run" -eq 1 ]; then
		run_go "$REPO_ROOT/integration" || rc=$?
	fi
	summary+=("$(printf '%-60s %s after %ss' "$name" "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")" "$(($(date +%s) - start))")")
	[ "$rc" -eq 0 ] || failed+=("$name")
}

if [ "$on_primary" -eq 1 ]; then
	phase "PostgreSQL ${PG_VERSION:-(version unknown)}, all drivers" "$PG_URL" ""
fi
if [ "$on_pg18" -eq 1 ]; then
	drivers=""
	[ "$full_run" -eq 0 ] || drivers=audit-pgx,audit-postgres
	phase "PostgreSQL ${PG18_VERSION}, ${drivers:-all drivers}" "$PG18_URL" "$drivers"
fi
for line in "${summary[@]}"; do
	log "$line"
done
if [ "${#failed[@]}" -gt 0 ]; then
	log "go test failed in: $(printf '%s; ' "${failed[@]}")"
	exit 1
fi
log "go test passed"
