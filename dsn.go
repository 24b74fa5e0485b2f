package sqlaudit

import (
	"fmt"
	"net/url"
	"strings"
)

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
	"audit_create":        boolParam("audit_create", func(o *Options, b bool) { o.NoCreate = !b }),
	"audit_trace":         boolParam("audit_trace", func(o *Options, b bool) { o.NoTrace = !b }),
	"audit_require_actor": boolParam("audit_require_actor", func(o *Options, b bool) { o.RequireActor = b }),
}

// boolParam is the setter of a boolean DSN parameter named name.
func boolParam(name string, set func(*Options, bool)) func(*Options, string) error {
	return func(o *Options, v string) error {
		switch strings.ToLower(v) {
		case "true", "1", "yes", "on":
			set(o, true)
		case "false", "0", "no", "off":
			set(o, false)
		default:
			return fmt.Errorf("%s=%q: want true or false", name, v)
		}
		return nil
	}
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
// x.db?a=b) and, when keywords is set (PostgreSQL), libpq keyword/value
// strings (host=x audit_table=y). Other parameters are kept as written.
func parseDSN(dsn string, base Options, keywords bool) (string, Options, error) {
	opts := base
	if !strings.Contains(dsn, dsnPrefix) {
		return dsn, opts, nil
	}
	var err error
	// apply takes an audit_* parameter; it reports false for others.
	apply := func(k, v string) bool {
		if !strings.HasPrefix(k, dsnPrefix) {
			return false
		}
		set, ok := dsnParams[k]
		if !ok && err == nil {
			err = fmt.Errorf("sqlaudit: unknown DSN parameter %q (known: audit_table, audit_include, audit_exclude, audit_redact, audit_unsupported, audit_create, audit_trace, audit_require_actor)", k)
		}
		if ok && err == nil {
			err = set(&opts, v)
		}
		return true
	}
	if keywords && isKeywordDSN(dsn) {
		fields, perr := keywordFields(dsn)
		if perr != nil {
			return dsn, opts, perr
		}
		var keep []string
		for _, f := range fields {
			if !apply(f.key, f.value) {
				keep = append(keep, f.key+"="+f.raw)
			}
		}
		return strings.Join(keep, " "), opts, err
	}
	i := strings.IndexByte(dsn, '?')
	if i < 0 {
		return dsn, opts, nil
	}
	var keep []string
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

// isKeywordDSN reports a libpq keyword/value string: not a URL, and its
// first field is a bare word followed by '=' (blanks allowed around it).
func isKeywordDSN(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return false
	}
	s := strings.TrimLeft(dsn, " \t\n")
	j := 0
	for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
		j++
	}
	return j > 0 && strings.HasPrefix(strings.TrimLeft(s[j:], " \t\n"), "=")
}

// kvField is one keyword=value of a libpq connection string.
type kvField struct {
	key   string
	value string // unquoted, unescaped
	raw   string // as written: quotes and escapes kept
}

// keywordFields parses a libpq keyword/value string as libpq does: blanks
// around '=', values in single quotes with \' and \\ escapes, or bare
// values ending at a blank (with backslash escapes).
func keywordFields(s string) ([]kvField, error) {
	var out []kvField
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for skip(); i < len(s); skip() {
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			i++
		}
		key := s[k:i]
		skip()
		if i >= len(s) || s[i] != '=' {
			return nil, fmt.Errorf("sqlaudit: connection string: missing \"=\" after %q", key)
		}
		i++
		skip()
		v := i
		var val strings.Builder
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if quoted && c == '\'' {
				i++
				break
			}
			if !quoted && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
				break
			}
			val.WriteByte(c)
		}
		out = append(out, kvField{key: key, value: val.String(), raw: s[v:i]})
	}
	return out, nil
}
