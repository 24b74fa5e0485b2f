package benchmark

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
)

// describeMachine is the machine line: CPU model, cores, OS, Go version.
func describeMachine() string {
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s, %s",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// pgSettings are the server settings that decide what a write costs.
const pgSettings = `SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'),
  current_setting('wal_sync_method'), current_setting('full_page_writes'), current_setting('shared_buffers'),
  current_setting('jit'), coalesce(host(inet_server_addr()), 'unix socket')`

// describe is the dialect's settings line, read from the P target.
func (e *env) describe(ctx context.Context, cfg Config) string {
	db := e.targets[0].plain
	if e.spec.d.my {
		return describeMySQL(ctx, db, cfg.MySQLDSN)
	}
	if e.spec.d.pg {
		var v [8]string
		err := db.QueryRowContext(ctx, pgSettings).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7])
		if err != nil {
			return "settings not readable: " + err.Error()
		}
		return fmt.Sprintf("%s via %s (%s); fsync=%s synchronous_commit=%s wal_sync_method=%s full_page_writes=%s shared_buffers=%s jit=%s",
			v[0], pgEndpoint(cfg.PGURL), v[7], v[1], v[2], v[3], v[4], v[5], v[6])
	}
	var version, journal string
	var sync int
	err := db.QueryRowContext(ctx, `SELECT sqlite_version(), (SELECT journal_mode FROM pragma_journal_mode), (SELECT synchronous FROM pragma_synchronous)`).
		Scan(&version, &journal, &sync)
	if err != nil {
		return "settings not readable: " + err.Error()
	}
	return fmt.Sprintf("%s (%s); journal_mode=%s synchronous=%s; files in %s; DSN parameters %s",
		version, e.spec.lib, journal, syncName(sync), e.dir, e.spec.dsnParams(cfg.SQLiteParams))
}

func syncName(n int) string {
	names := []string{"OFF", "NORMAL", "FULL", "EXTRA"}
	if n >= 0 && n < len(names) {
		return names[n]
	}
	return fmt.Sprint(n)
}

// pgEndpoint is the host:port (or socket directory) of a PostgreSQL DSN.
func pgEndpoint(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if h := u.Query().Get("host"); h != "" {
			return h
		}
		return u.Host
	}
	return "keyword DSN"
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages ("" where
// there is none): on a shared machine it says how much of the wall-clock
// time was waiting for a core.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}
