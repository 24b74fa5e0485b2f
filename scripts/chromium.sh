# scripts/chromium.sh — sourced by scripts/test.sh (which defines log and
# have): makes sure a headless Chromium is there for the browser tests of
# trail/web and exports SQLAUDIT_CHROMIUM with its path.
#
# Discovery, first that works wins:
#   a) $SQLAUDIT_CHROMIUM, if set and executable;
#   b) chromium, chromium-browser or google-chrome on PATH (Debian's
#      package installs /usr/bin/chromium);
#   c) as root with apt-get: Debian's "chromium" package is installed (with
#      a font, so that screenshots have text).
#
# Without a browser the browser tests skip with a message — except in CI
# (CI=true), where they fail: this script only says so loudly, the tests
# themselves fail, so the rest of the run still reports.

chromium_find() {
	local c
	for c in chromium chromium-browser google-chrome google-chrome-stable; do
		if have "$c"; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

chromium_setup() {
	local found=""
	if [ -n "${SQLAUDIT_CHROMIUM:-}" ] && [ -x "$SQLAUDIT_CHROMIUM" ]; then
		found=$SQLAUDIT_CHROMIUM
	elif ! found=$(chromium_find); then
		found=""
		if [ "$(id -u)" = 0 ] && have apt-get; then
			log "chromium not found; installing Debian's chromium with apt-get for the browser tests (this takes a while)"
			if { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; } >&2; then
				found=$(chromium_find) || found=""
			fi
		fi
	fi
	if [ -z "$found" ]; then
		if [ "${CI:-}" = true ]; then
			log "ERROR: no Chromium for the browser tests (set SQLAUDIT_CHROMIUM, or run as root with apt-get): they will FAIL"
		else
			log "WARNING: no Chromium for the browser tests (set SQLAUDIT_CHROMIUM or install chromium): they will be skipped"
		fi
		return 0
	fi
	export SQLAUDIT_CHROMIUM=$found
	log "using Chromium for the browser tests: $found ($("$found" --version 2>/dev/null || echo 'version unknown'))"
}

chromium_setup
