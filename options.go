package sqlaudit

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Policy says what the wrapper does with a statement that writes an audited
// table but cannot be audited.
type Policy int

const (
	// Refuse fails such a statement with an error wrapping ErrUnsupported;
	// nothing runs. It is the default.
	Refuse Policy = iota
	// Warn runs such a statement unaudited and logs a warning naming it.
	Warn
)

// Options configure an audit wrapper. The zero value audits every table into
// "audit_log", creates that table when missing and refuses what it cannot
// audit.
type Options struct {
	// Table is the audit table, optionally schema-qualified ("audit.log").
	// Default "audit_log".
	Table string
	// Include, when not empty, limits auditing to these tables. A name
	// matches the recorded table_name ("billing.invoices", or "accounts" in
	// the default schema) or, unqualified, the table of that name in any
	// schema.
	Include []string
	// Exclude lists tables that are never audited.
	Exclude []string
	// Redact lists columns whose values are masked in the records, as
	// "column" (every table) or "table.column". A redacted column that
	// changes still appears in the record, with the value "[redacted]".
	Redact []string
	// Unsupported is the policy for statements that cannot be audited.
	Unsupported Policy
	// NoCreate disables creating the audit table on the first connection;
	// use it when migrations own the schema (see DDL).
	NoCreate bool
	// Logger receives warnings (Warn policy). Default slog.Default().
	Logger *slog.Logger
}

// RedactedValue replaces the value of a redacted column in a record.
const RedactedValue = "[redacted]"

const dsnPrefix = "audit_"

// dsnParams are the wrapper's own DSN parameters; they are removed from the
// DSN before the underlying driver sees it.
var dsnParams = map[string]func(*Options, string) error{
	"audit_table":   func(o *Options, v string) error { o.Table = v; return nil },
	"audit_include": func(o *Options, v string) error { o.Include = splitList(v); return nil },
	"audit_exclude": func(o *Options, v string) error { o.Exclude = splitList(v); return nil },
	"audit_redact":  func(o *Options, v string) error { o.Redact = splitList(v); return nil },
	"audit_unsupported": func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "refuse":
			o.Unsupported = Refuse
		case "warn":
			o.Unsupported = Warn
		default:
			return fmt.Errorf("audit_unsupported=%q: want refuse or warn", v)
		}
		return nil
	},
	"audit_create": func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "true", "1", "yes", "on":
			o.NoCreate = false
		case "false", "0", "no", "off":
			o.NoCreate = true
		default:
			return fmt.Errorf("audit_create=%q: want true or false", v)
		}
		return nil
	},
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseDSN removes the audit_* parameters from dsn and applies them over
// base. It understands URL query strings (postgres://…?a=b, file:x.db?a=b,
// x.db?a=b) and PostgreSQL keyword/value strings (host=x audit_table=y).
// Other parameters are left byte for byte as they were.
func parseDSN(dsn string, base Options) (string, Options, error) {
	opts := base
	if !strings.Contains(dsn, dsnPrefix) {
		return dsn, opts, nil
	}
	var keep []string
	var err error
	apply := func(k, v string) bool {
		set, ok := dsnParams[k]
		if !ok && strings.HasPrefix(k, dsnPrefix) {
			err = fmt.Errorf("sqlaudit: unknown DSN parameter %q (known: audit_table, audit_include, audit_exclude, audit_redact, audit_unsupported, audit_create)", k)
			return true
		}
		if ok && err == nil {
			err = set(&opts, v)
		}
		return ok
	}
	if !isKeywordDSN(dsn) {
		i := strings.IndexByte(dsn, '?')
		if i < 0 {
			return dsn, opts, nil
		}
		for _, kv := range strings.Split(dsn[i+1:], "&") {
			k, v, _ := strings.Cut(kv, "=")
			uk, _ := url.QueryUnescape(k)
			uv, uerr := url.QueryUnescape(v)
			if uerr != nil {
				uv = v
			}
			if !apply(uk, uv) {
				keep = append(keep, kv)
			}
		}
		out := dsn[:i]
		if len(keep) > 0 {
			out += "?" + strings.Join(keep, "&")
		}
		return out, opts, err
	}
	for _, f := range fieldsKV(dsn) {
		k, v, _ := strings.Cut(f, "=")
		if !apply(strings.TrimSpace(k), unquoteKV(strings.TrimSpace(v))) {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " "), opts, err
}

// isKeywordDSN reports a libpq keyword/value string: its first field is a
// bare word followed by '=' (a URL or file name never is).
func isKeywordDSN(dsn string) bool {
	if strings.Contains(dsn, "://") {
		return false
	}
	k, _, ok := strings.Cut(strings.TrimSpace(dsn), "=")
	if !ok || k == "" {
		return false
	}
	for _, r := range strings.TrimSpace(k) {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// fieldsKV splits a libpq keyword/value string on blanks outside quotes.
func fieldsKV(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, esc := false, false
	for _, r := range s {
		switch {
		case esc:
			esc = false
		case r == '\\':
			esc = true
		case r == '\'':
			quoted = !quoted
		case (r == ' ' || r == '\t' || r == '\n') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func unquoteKV(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = v[1 : len(v)-1]
	}
	return strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v)
}

// filter decides per table whether it is audited and which columns are
// redacted; it is built once per connector from Options.
type filter struct {
	include, exclude map[string]bool
	redactAll        map[string]bool
	redactTable      map[string]map[string]bool
}

func newFilter(o Options) filter {
	f := filter{include: set(o.Include), exclude: set(o.Exclude), redactAll: map[string]bool{}, redactTable: map[string]map[string]bool{}}
	for _, r := range o.Redact {
		i := strings.LastIndexByte(r, '.')
		if i < 0 {
			f.redactAll[r] = true
			continue
		}
		if f.redactTable[r[:i]] == nil {
			f.redactTable[r[:i]] = map[string]bool{}
		}
		f.redactTable[r[:i]][r[i+1:]] = true
	}
	return f
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// audited reports whether a table is audited; names in the options match
// the recorded table_name (display) or the bare table name in any schema.
func (f filter) audited(display, name string) bool {
	return !f.exclude[display] && !f.exclude[name] && (len(f.include) == 0 || f.include[display] || f.include[name])
}

func (f filter) redacted(display, name, column string) bool {
	return f.redactAll[column] || f.redactTable[display][column] || f.redactTable[name][column]
}
