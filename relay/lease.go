package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// LeaseBucket is the key-value bucket of the relays' leases: one key per
// stream and source.
const LeaseBucket = "sqlaudit_relays"

// holder is the value of a lease: who holds it.
type holder struct {
	Owner string    `json:"owner"` // unique per Run
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (h holder) String() string {
	return fmt.Sprintf("relay %s (pid %d on %s, since %s)", h.Owner, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// lease is a held lease.
type lease struct {
	kv  jetstream.KeyValue
	key string
	rev uint64
	me  holder
}

func newHolder() holder {
	host, _ := os.Hostname()
	return holder{Owner: nuid.Next(), Host: host, PID: os.Getpid(), Since: time.Now().UTC()}
}

// leaseKV opens the lease bucket, creating it with ttl as its max age.
func (r *relay) leaseKV(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := r.js.KeyValue(ctx, LeaseBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = r.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: LeaseBucket, TTL: r.opts.LeaseTTL, Replicas: r.opts.Replicas,
			Description: "sqlaudit relay leases: one relay per stream and source",
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			return r.js.KeyValue(ctx, LeaseBucket)
		}
	}
	return kv, err
}

// acquire takes the source's lease, waiting while another relay holds it
// (or returning ErrHeld with NoWait). A holder that ran on this host and
// whose process is gone (killed) is replaced at once.
func (r *relay) acquire(ctx context.Context) (*lease, error) {
	kv, err := r.leaseKV(ctx)
	if err != nil {
		return nil, err
	}
	l := &lease{kv: kv, key: r.opts.Stream + "." + r.opts.Source, me: newHolder()}
	val, _ := json.Marshal(l.me)
	waiting := false
	for {
		rev, err := kv.Create(ctx, l.key, val)
		if err == nil {
			l.rev = rev
			r.log.Info("lease taken", "key", l.key, "owner", l.me.Owner)
			return l, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		e, err := kv.Get(ctx, l.key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired or released meanwhile
		}
		if err != nil {
			return nil, err
		}
		var h holder
		json.Unmarshal(e.Value(), &h)
		if h.Host == l.me.Host && h.PID != l.me.PID && !processAlive(h.PID) {
			r.log.Info("lease holder's process is gone: taking over", "holder", h.String())
			if err := kv.Delete(ctx, l.key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return nil, err
			}
			continue
		}
		if r.opts.NoWait {
			return nil, errPermanent{fmt.Errorf("%w: source %s of stream %s: %s", ErrHeld, r.opts.Source, r.opts.Stream, h)}
		}
		if !waiting {
			r.log.Warn("source held by another relay: waiting for its lease to end", "source", r.opts.Source, "holder", h.String())
			waiting = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(r.opts.LeaseTTL / 4):
		}
	}
}

// renew extends the lease; an error wrapping errLost means another relay
// has it now.
func (l *lease) renew(ctx context.Context) error {
	val, _ := json.Marshal(l.me)
	rev, err := l.kv.Update(ctx, l.key, val, l.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %v", errLost, err)
	}
	if err == nil {
		l.rev = rev
	}
	return err
}

// release gives the lease up (best effort: it expires anyway).
func (l *lease) release(ctx context.Context) {
	l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
}

var errLost = errors.New("relay: lease lost")
