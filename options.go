package sqlaudit

import (
	"log/slog"

	"github.com/sqlaudit/sqlaudit/internal/engine"
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
	// NoTrace leaves the OpenTelemetry trace and span ids out of the
	// records' metadata. By default, when a statement's context carries a
	// valid span context (go.opentelemetry.io/otel/trace), its metadata
	// holds "trace_id" and "span_id" (TraceIDKey, SpanIDKey).
	NoTrace bool
	// RequireActor refuses a write that would write records when its
	// context carries no actor (no WithActor, or an empty one): the
	// statement fails with an error wrapping ErrNoActor and nothing runs,
	// whatever the Unsupported policy. Meant for tests and CI, to find the
	// code paths that forget WithActor.
	RequireActor bool
	// Logger receives warnings (Warn policy). Default slog.Default().
	Logger *slog.Logger
}

// RedactedValue replaces the value of a redacted column in a record.
const RedactedValue = engine.RedactedValue
