package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
)

// Options configure Run. Source is required; the rest have defaults.
type Options struct {
	// Source names the service whose trail this is, unique among the
	// sources sharing the stream: letters, digits, '-' and '_'.
	Source string
	// Stream is the JetStream stream (default "AUDIT"). When missing it is
	// created with subjects <Prefix>.>, file storage, Replicas and atomic
	// batch publishing; an existing stream must take <Prefix>.<Source>.>
	// and allow atomic publishing (Run turns it on when it is off).
	Stream string
	// Prefix is the subjects' first tokens (default "audit"): records go to
	// <Prefix>.<Source>.<table>.
	Prefix string
	// Replicas of a stream Run creates (default 1; 3 on a cluster).
	Replicas int
	// AuditTable is the audit table's name, as the audit driver was given
	// it (default "audit_log").
	AuditTable string
	// Once stops Run when it has caught up with the horizon, instead of
	// waiting for new records.
	Once bool
	// Poll is the wait between reads of the trail when caught up (default
	// 200 ms): with the horizon's own delay it bounds the lag.
	Poll time.Duration
	// Batch is the number of records per atomic batch (default and at most
	// 1,000, JetStream's limit).
	Batch int
	// LeaseTTL is how long a relay's lease outlives its last renewal
	// (default 10 s): a relay killed without releasing it holds its source
	// that long, unless it ran on this host (its process is gone: taken at
	// once). It is the lease bucket's max age, fixed when Run creates it.
	LeaseTTL time.Duration
	// NoWait makes Run return an error wrapping ErrHeld at once when
	// another relay holds the source, instead of waiting for it.
	NoWait bool
	// GiveUp returns the last error after failing for this long without a
	// success in between (0: retry for ever). Errors that retrying cannot
	// cure are returned at once.
	GiveUp time.Duration
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
	// Progress, when set, is called after every batch and, when caught up,
	// after every read of the trail.
	Progress func(Stats)
}

// Stats is a relay's progress.
type Stats struct {
	Source    string
	Published int64             // records this Run published
	Rate      float64           // records per second since the previous report
	Position  sqlaudit.Position // the last record in the stream
	Seq       uint64            // its stream sequence
	Lag       time.Duration     // the last batch: publication time minus its last record's occurred_at
	CaughtUp  bool              // the last read of the trail found no more final records
}

// ErrHeld is wrapped by the error Run returns with NoWait when another
// relay holds the source's lease.
var ErrHeld = errors.New("relay: the source is held by another relay")

// errPermanent marks an error that retrying cannot cure.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

func permanent(format string, a ...any) error { return errPermanent{fmt.Errorf(format, a...)} }

// Run streams db's trail to js until ctx is done (it then returns nil) or,
// with Once, until it has caught up. db must be opened through an audit
// driver. Failures of NATS or of the database are logged and retried with
// backoff, resuming from the stream's own last record of the source;
// errors that retrying cannot cure (bad options, a stream that cannot
// take the records, a record pruned before it was relayed, a lease held
// with NoWait) are returned.
func Run(ctx context.Context, db *sql.DB, js jetstream.JetStream, opts Options) error {
	r, err := newRelay(db, js, opts)
	if err != nil {
		return err
	}
	return r.run(ctx)
}

func (o *Options) defaults() error {
	if o.Stream == "" {
		o.Stream = "AUDIT"
	}
	if o.Prefix == "" {
		o.Prefix = "audit"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.AuditTable == "" {
		o.AuditTable = "audit_log"
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.Batch <= 0 || o.Batch > maxBatch {
		o.Batch = maxBatch
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := checkNames(o.Source, o.Prefix); err != nil {
		return err
	}
	if !validToken(o.Stream) {
		return fmt.Errorf("relay: stream name %q: want letters, digits, '-' or '_'", o.Stream)
	}
	return nil
}
