package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit"
)

func coverageCmd(g *globals) *cobra.Command {
	var since, until, counters, format string
	var schemas []string
	cmd := &cobra.Command{
		Use:   "coverage",
		Short: "Report which tables are audited, which are not, and records without an actor",
		Long: `Coverage judges every table of the database as the audit driver would judge a
write to it: audited, audited-rowid (SQLite, keyed by the implicit rowid),
excluded (by audit_exclude / audit_include in the DSN: give the application's),
no-key (refused on PostgreSQL and MariaDB until it has a primary key) or refused
(with the reason). For each table it counts the records of the time range and
those written without an actor (sqlaudit.WithActor missing).

Which writes were refused or ran unaudited under audit_unsupported=warn is
counted in the application's process, not in the database: this command cannot
see another process's counters unless that process publishes them. Give
--counters the URL of the application's expvar page (expvar.Handler, usually
/debug/vars), where the driver publishes them as "sqlaudit", to add its
audited, refused and warned counts by table.`,
		Example: `  sqlaudit coverage --dsn 'postgres://app@db/shop?audit_exclude=sessions'
  sqlaudit coverage --dsn shop.db --since 24h
  sqlaudit coverage --dsn 'app@tcp(db:3306)/shop' --since 2025-05-01 --until 2025-06-01 -o json
  sqlaudit coverage --schema billing --counters http://app:6060/debug/vars`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := sqlaudit.CoverageOptions{Schemas: schemas}
			var err error
			if opts.Since, err = parseSince("--since", since); err != nil {
				return err
			}
			if opts.Until, err = parseTime("--until", until); err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return usagef("bad --output %q: want table or json", format)
			}
			var remote *sqlaudit.Stats
			if counters != "" {
				if remote, err = fetchCounters(cmd.Context(), counters); err != nil {
					return err
				}
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			rep, err := sqlaudit.Coverage(cmd.Context(), db, opts)
			if err != nil {
				return g.friendly(err)
			}
			if remote != nil {
				rep.Stats = *remote
				for i := range rep.Tables {
					rep.Tables[i].Stats = remote.Tables[rep.Tables[i].Table]
				}
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return printCoverage(cmd.OutOrStdout(), rep, opts, remote != nil)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&schemas, "schema", nil, "only this PostgreSQL schema, MariaDB database or SQLite schema (repeatable; default: PostgreSQL every schema, MariaDB the DSN's database, SQLite main and attached)")
	fl.StringVar(&since, "since", "", "count records at or after TIME (or a time ago: 24h, 7d)")
	fl.StringVar(&until, "until", "", "count records before TIME")
	fl.StringVar(&counters, "counters", "", "URL of the application's expvar page (e.g. http://app:6060/debug/vars) to read its counters from")
	fl.StringVarP(&format, "output", "o", "table", "output format: table or json")
	return cmd
}

// parseSince reads --since: a TIME, or a time ago (24h, 7d).
func parseSince(name, s string) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days > 0 {
			return time.Now().AddDate(0, 0, -days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return parseTime(name, s)
}

// fetchCounters reads the "sqlaudit" counters from an expvar page.
func fetchCounters(ctx context.Context, url string) (*sqlaudit.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, usagef("bad --counters %q: %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading the counters from %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading the counters from %s: %s", url, resp.Status)
	}
	var page struct {
		Sqlaudit *sqlaudit.Stats `json:"sqlaudit"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page); err != nil {
		return nil, fmt.Errorf("reading the counters from %s: not an expvar page: %w", url, err)
	}
	if page.Sqlaudit == nil {
		return nil, fmt.Errorf("reading the counters from %s: no \"sqlaudit\" variable there (is the application built with the sqlaudit driver, and is this its expvar page?)", url)
	}
	return page.Sqlaudit, nil
}

// printCoverage prints the report as a table and a summary.
func printCoverage(out io.Writer, rep *sqlaudit.CoverageReport, opts sqlaudit.CoverageOptions, counters bool) error {
	header := []string{"TABLE", "STATUS", "KEY", "RECORDS", "WITHOUT ACTOR"}
	if counters {
		header = append(header, "AUDITED", "REFUSED", "WARNED")
	}
	header = append(header, "NOTE")
	var rows [][]string
	status := map[sqlaudit.TableStatus]int{}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, t := range rep.Tables {
		status[t.Status]++
		row := []string{t.Table, string(t.Status), orDash(strings.Join(t.Key, ",")), num(t.Records), num(t.Unattributed)}
		if counters {
			row = append(row, num(t.Stats.Audited), num(t.Stats.Refused), num(t.Stats.Warned))
		}
		rows = append(rows, append(row, noteOf(t)))
	}
	if err := renderTable(out, header, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d tables: %d audited, %d audited by rowid, %d excluded, %d without a primary key, %d refused\n", len(rep.Tables),
		status[sqlaudit.Audited], status[sqlaudit.AuditedByRowid], status[sqlaudit.Excluded], status[sqlaudit.NoKey], status[sqlaudit.Refused])
	var all, bad int64
	for _, n := range rep.Records {
		all += n
	}
	for _, n := range rep.Unattributed {
		bad += n
	}
	fmt.Fprintf(out, "records %s: %d, of which %d without an actor\n", rangeText(opts), all, bad)
	if counters {
		fmt.Fprintf(out, "the application's counters: %d writes audited (%d without an actor), %d refused, %d run unaudited under warn\n",
			rep.Stats.Audited, rep.Stats.WithoutActor, rep.Stats.Refused, rep.Stats.Warned)
		printOtherCounters(out, rep)
	}
	return nil
}

// noteOf is the NOTE column: why a table is refused, or what its key is.
func noteOf(t sqlaudit.TableCoverage) string {
	if t.Reason != "" {
		return t.Reason
	}
	if t.Stats.LastReason != "" {
		return "last refused or warned: " + t.Stats.LastReason
	}
	return ""
}

// printOtherCounters lists counted refusals and warnings of tables the
// report does not list (statements the wrapper could name no table of, or
// tables outside the schemas reported).
func printOtherCounters(out io.Writer, rep *sqlaudit.CoverageReport) {
	listed := map[string]bool{}
	for _, t := range rep.Tables {
		listed[t.Table] = true
	}
	var names []string
	for name, s := range rep.Stats.Tables {
		if !listed[name] && (s.Refused > 0 || s.Warned > 0) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		s := rep.Stats.Tables[name]
		label := name
		if label == "" {
			label = "(statements naming no table the wrapper could resolve)"
		}
		fmt.Fprintf(out, "  %s: %d refused, %d warned; last: %s (%s)\n", label, s.Refused, s.Warned, s.LastReason, s.LastQuery)
	}
}

// rangeText says which records were counted.
func rangeText(opts sqlaudit.CoverageOptions) string {
	const layout = "2006-01-02 15:04:05 MST"
	switch {
	case opts.Since.IsZero() && opts.Until.IsZero():
		return "of all time"
	case opts.Until.IsZero():
		return "since " + opts.Since.Format(layout)
	case opts.Since.IsZero():
		return "before " + opts.Until.Format(layout)
	}
	return "from " + opts.Since.Format(layout) + " to " + opts.Until.Format(layout)
}
