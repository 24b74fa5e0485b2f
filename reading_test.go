package sqlaudit_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// syncBuffer is a log destination for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A table named in audit_include, audit_exclude or audit_redact that does
// not exist is warned about at connect: a mistyped audit_exclude=userz
// would otherwise audit users without a word.
func TestOptionsNamingNoTableAreWarnedAbout(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			_, td := mustOpen(t, drv)
			mustExec(t, td.plain, `CREATE TABLE users (id INTEGER PRIMARY KEY, password_hash TEXT)`)
			var logs syncBuffer
			opts := sqlaudit.Options{Exclude: []string{"userz", "users"}, Redact: []string{"users.password_hash", "accountz.pin"},
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			db := mustOpenDB(t, drv, td.dsn, opts)
			if err := db.Ping(); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			for _, want := range []string{"option=audit_exclude table=userz", "option=audit_redact table=accountz"} {
				if !strings.Contains(got, want) {
					t.Errorf("no warning %q in:\n%s", want, got)
				}
			}
			if strings.Contains(got, "table=users ") || strings.Count(got, "does not exist") != 2 {
				t.Errorf("warnings about existing tables:\n%s", got)
			}
		})
	}
}

// A tamper message names the seal and the record it knows, never "record 0".
func TestTamperMessagesNameOnlyWhatIsKnown(t *testing.T) {
	for _, c := range []struct {
		e    sqlaudit.TamperError
		want string
	}{
		{sqlaudit.TamperError{Seq: 2, RecordID: 2, Reason: "edited"}, "tampered with at seal 2 (record 2): edited"},
		{sqlaudit.TamperError{Seq: 3, Reason: "a seal is missing"}, "tampered with at seal 3: a seal is missing"},
		{sqlaudit.TamperError{RecordID: 9, Reason: "inserted after sealing"}, "tampered with at record 9: inserted after sealing"},
	} {
		if got := c.e.Error(); !strings.HasSuffix(got, c.want) || strings.Contains(got, "record 0") {
			t.Errorf("%+v: %q, want …%q", c.e, got, c.want)
		}
	}
}
