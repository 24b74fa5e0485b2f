package benchmark

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// benchstatChunks is how many benchstat lines each series prints.
const benchstatChunks = 10

// report collects a run's cells and writes them.
type report struct {
	cfg      Config
	rows     int
	machine  string
	settings map[string]string // by dialect name
	probes   []string          // per server driver: round trips of fresh connections
	cells    []*cell
}

func (r *report) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

// write prints the header, the results table, the ratio summary, the notes
// and the benchstat lines.
func (r *report) write(w io.Writer) error {
	r.sortCells()
	var b strings.Builder
	r.writeHeader(&b)
	r.writeTable(&b)
	r.writeSummary(&b)
	r.writeNotes(&b)
	r.writeBenchstat(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// sortCells orders the cells by workload, then driver.
func (r *report) sortCells() {
	index := func(c *cell) int {
		return slices.Index(workloads, c.w)*len(drivers) + slices.Index(drivers, c.driver)
	}
	slices.SortStableFunc(r.cells, func(a, b *cell) int { return index(a) - index(b) })
}

// displayName titles the settings lines. Header lines start with a capital
// so that benchstat does not take them for configuration keys (which would
// keep it from comparing two runs).
var displayName = map[string]string{"postgres": "PostgreSQL", "sqlite": "SQLite", "mysql": "MariaDB"}

func (r *report) writeHeader(b *strings.Builder) {
	mode := "default"
	if r.cfg.Quick {
		mode = "quick"
	}
	fmt.Fprintf(b, "sqlaudit benchmark (%s run, %s)\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(b, "Machine: %s\n", r.machine)
	for _, name := range []string{"postgres", "sqlite", "mysql"} {
		if s, ok := r.settings[name]; ok {
			fmt.Fprintf(b, "%s: %s\n", displayName[name], s)
		}
	}
	for _, p := range r.probes {
		fmt.Fprintf(b, "Connections: %s\n", p)
	}
	if len(r.probes) > 0 {
		fmt.Fprintf(b, "Connections: every target gets a new PostgreSQL or MariaDB connection every %d measured rounds (one unmeasured round after), so each variant is measured over many connections\n", reconnectEvery)
	}
	fmt.Fprintf(b, "Table: items (id key, grp, qty, price numeric, note text), %d rows per variant; rounds interleaved P T S N L per workload (S on PostgreSQL only)%s\n",
		r.rows, r.limits())
	b.WriteString("Variants: P plain driver, autocommit (baseline 1.00) | T AFTER … FOR EACH ROW trigger → audit_log_trigger |" +
		" S AFTER … FOR EACH STATEMENT triggers over transition tables → audit_log_trigger (PostgreSQL) |" +
		" N naive: BEGIN; SELECT … FOR UPDATE; the statement (RETURNING); INSERT records from Go; COMMIT | L sqlaudit\n\n")
}

// limits describes the rounds and time cap.
func (r *report) limits() string {
	s := "; rounds per workload: its default"
	switch {
	case r.cfg.Iterations > 0:
		s = fmt.Sprintf("; %d measured rounds per workload", r.cfg.Iterations)
	case r.cfg.Quick:
		s = fmt.Sprintf("; %d measured rounds per workload", quickRounds)
	}
	if r.cfg.Duration > 0 {
		s += fmt.Sprintf(", at most %v per workload and driver", r.cfg.Duration)
	}
	return s
}

func (r *report) writeTable(b *strings.Builder) {
	const row = "%-15s %-7s %-3s %6s %10s %10s %7s %s\n"
	fmt.Fprintf(b, row, "workload", "driver", "var", "ops", "median", "p90", "×P", "peak Go heap Δ")
	for i, c := range r.cells {
		if i == 0 || c.w != r.cells[i-1].w {
			fmt.Fprintf(b, "-- %s: %s\n", c.w.name, c.w.title)
		}
		base := c.series[0].median()
		for _, s := range c.series {
			if s.refused != "" {
				fmt.Fprintf(b, row, c.w.name, c.driver.name, s.v, "-", "refused", "-", "-", "")
				continue
			}
			heap := ""
			if c.w.heap {
				heap = fmt.Sprintf("%.2f MiB", float64(s.heap())/(1<<20))
			}
			fmt.Fprintf(b, row, c.w.name, c.driver.name, s.v, fmt.Sprint(len(s.samples)),
				fmtDuration(s.median()), fmtDuration(s.p90()), ratio(s.median(), base), heap)
		}
	}
}

// writeSummary is the ratios of medians to P, one line per workload.
func (r *report) writeSummary(b *strings.Builder) {
	b.WriteString("\nRatio of medians to P (T / S / N / L; S is PostgreSQL's only):\n")
	row := "%-15s" + strings.Repeat(" %-29s", len(drivers)) + "\n"
	head := []any{"workload"}
	for _, d := range drivers {
		head = append(head, d.name)
	}
	fmt.Fprintf(b, row, head...)
	byWorkload := map[*workload]map[*driverSpec]*cell{}
	var order []*workload
	for _, c := range r.cells {
		if byWorkload[c.w] == nil {
			byWorkload[c.w] = map[*driverSpec]*cell{}
			order = append(order, c.w)
		}
		byWorkload[c.w][c.driver] = c
	}
	for _, w := range order {
		cols := make([]any, 0, 1+len(drivers))
		cols = append(cols, w.name)
		for _, d := range drivers {
			cols = append(cols, ratios(byWorkload[w][d]))
		}
		fmt.Fprintf(b, row, cols...)
	}
}

// ratios is "T / S / N / L" of a cell ("-" for a variant the driver does
// not run), or "-" when the cell did not run.
func ratios(c *cell) string {
	if c == nil {
		return "-"
	}
	base := c.series[0].median()
	parts := make([]string, 0, len(Variants)-1)
	for _, v := range Variants[1:] {
		i := slices.IndexFunc(c.series, func(s *series) bool { return s.v == v })
		switch {
		case i < 0:
			parts = append(parts, "-")
		case c.series[i].refused != "":
			parts = append(parts, "refused")
		default:
			parts = append(parts, ratio(c.series[i].median(), base))
		}
	}
	return strings.Join(parts, " / ")
}

func (r *report) writeNotes(b *strings.Builder) {
	b.WriteString("\nNotes:\n")
	seen := map[*workload]bool{}
	agree := true
	for _, c := range r.cells {
		if c.check != "" {
			agree = false
			fmt.Fprintf(b, "- %s/%s: RECORDS DIFFER (over all rounds): %s\n", c.w.name, c.driver.name, c.check)
		}
		if c.w.note != "" && !seen[c.w] {
			seen[c.w] = true
			fmt.Fprintf(b, "- %s\n", c.w.note)
		}
		for _, s := range c.series {
			if s.refused != "" {
				fmt.Fprintf(b, "- %s/%s/%s refused by sqlaudit (ErrUnsupported): %.160s\n", c.w.name, c.driver.name, s.v, s.refused)
			}
		}
	}
	if agree {
		b.WriteString("- records checked: in every workload and driver, T, S and L wrote as many records per action as N (the triggers' records of the untimed undo work left out).\n")
	}
	r.writeStatements(b)
	b.WriteString("- T records no actor (a trigger cannot know the application's user) and, on SQLite, no statement text and a per-row tx_id;" +
		" on MariaDB no statement text and CONNECTION_ID() as tx_id (its audit table has an AUTO_INCREMENT id instead of sqlaudit's SEQUENCE).\n")
	b.WriteString("- N on MariaDB: there is no UPDATE … RETURNING, so N reads the updated rows again (by the same key predicate, in the transaction);" +
		" tx_id, actor and statement go into user variables in one SET (with NEXT VALUE FOR audit_log_seq).\n")
	b.WriteString("- statement analysis alone (sqlaudit's per-statement cache hit and miss) is measured by BenchmarkAnalysis in the root package.\n")
}

// writeStatements prints each workload's statement (its first round).
func (r *report) writeStatements(b *strings.Builder) {
	b.WriteString("- statements (PostgreSQL placeholders; SQLite and MariaDB have ? instead):\n")
	seen := map[*workload]bool{}
	for _, c := range r.cells {
		if !seen[c.w] {
			seen[c.w] = true
			q := c.w.make(postgres, 0, r.rows).query
			if len(q) > 110 {
				q = q[:60] + " … " + q[len(q)-45:]
			}
			fmt.Fprintf(b, "    %-15s %s\n", c.w.name, q)
		}
	}
}

// writeBenchstat prints the samples as go test benchmark lines, a few per
// series (means of consecutive operations), for benchstat.
func (r *report) writeBenchstat(b *strings.Builder) {
	fmt.Fprintf(b, "\ngoos: %s\ngoarch: %s\npkg: github.com/sqlaudit/sqlaudit/benchmark\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
	for _, c := range r.cells {
		for _, s := range c.series {
			name := fmt.Sprintf("Benchmark%s/%s/%s", c.w.name, c.driver.name, s.v)
			for _, ch := range s.chunks(benchstatChunks) {
				fmt.Fprintf(b, "%s \t %8d \t %12d ns/op", name, ch.n, ch.mean.Nanoseconds())
				if c.w.heap {
					fmt.Fprintf(b, " \t %.2f peak-heap-MiB", float64(ch.heap)/(1<<20))
				}
				b.WriteString("\n")
			}
		}
	}
}

func ratio(d, base time.Duration) string {
	if base <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(d)/float64(base))
}

// fmtDuration prints d with three or four significant digits.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}
