package sqlaudit

import (
	"reflect"
	"testing"
)

func TestParseDSNStripsTheWrappersParameters(t *testing.T) {
	tests := []struct {
		name, dsn string
		keywords  bool
		want      string
		opts      Options
	}{
		{"URL", "postgres://u@h/db?sslmode=disable&audit_table=changes&x=1", true,
			"postgres://u@h/db?sslmode=disable&x=1", Options{Table: "changes"}},
		{"URL, encoded values", "postgres://h/db?audit_exclude=a%2Cb&audit_redact=t.c", true,
			"postgres://h/db", Options{Exclude: []string{"a", "b"}, Redact: []string{"t.c"}}},
		{"keyword form", "host=/tmp dbname=app audit_unsupported=warn sslmode=disable", true,
			"host=/tmp dbname=app sslmode=disable", Options{Unsupported: Warn}},
		{"keyword form with blanks around =", "host = localhost audit_table = x  port=5432", true,
			"host=localhost port=5432", Options{Table: "x"}},
		{"keyword form, quoted values kept as written", `password='it\'s x' audit_create=false user=a`, true,
			`password='it\'s x' user=a`, Options{NoCreate: true}},
		{"SQLite file URI", "file:app.db?_busy_timeout=5000&audit_include=orders", false,
			"file:app.db?_busy_timeout=5000", Options{Include: []string{"orders"}}},
		{"SQLite path with = before ?", "app=1.db?audit_redact=password", false,
			"app=1.db", Options{Redact: []string{"password"}}},
		{"no audit parameters", "app.db", false, "app.db", Options{}},
	}
	for _, tt := range tests {
		got, opts, err := parseDSN(tt.dsn, Options{}, tt.keywords)
		if err != nil || got != tt.want || !reflect.DeepEqual(opts, tt.opts) {
			t.Errorf("%s: parseDSN(%q) = %q, %+v, %v; want %q, %+v", tt.name, tt.dsn, got, opts, err, tt.want, tt.opts)
		}
	}
}

func TestParseDSNRejectsBadParameters(t *testing.T) {
	for _, dsn := range []string{"x.db?audit_tabel=x", "x.db?audit_unsupported=maybe", "host=/tmp audit_create=perhaps", "host=/tmp audit_table"} {
		if _, _, err := parseDSN(dsn, Options{}, true); err == nil {
			t.Errorf("parseDSN(%q): want an error", dsn)
		}
	}
}
