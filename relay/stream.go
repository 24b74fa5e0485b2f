package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
)

// Headers of every message.
const (
	HeaderSource   = "Sqlaudit-Source"    // the source
	HeaderRecordID = "Sqlaudit-Record-Id" // the record's id in the source's trail
	HeaderTxID     = "Sqlaudit-Tx-Id"     // its transaction
	HeaderActor    = "Sqlaudit-Actor"     // its actor, absent when none
	// HeaderPosition is the record's horizon value (sqlaudit.Position):
	// with the record id it is where a relay resumes.
	HeaderPosition = "Sqlaudit-Position"
)

// ensureStream creates the stream when missing, or checks that an existing
// one takes the source's subjects and allows atomic batches (turning that
// on when it is off).
func (r *relay) ensureStream(ctx context.Context) error {
	want := r.opts.Prefix + ".>"
	s, err := r.js.Stream(ctx, r.opts.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: r.opts.Stream, Subjects: []string{want}, Storage: jetstream.FileStorage,
			Replicas: r.opts.Replicas, AllowAtomicPublish: true, Duplicates: 2 * time.Minute,
		})
		if err == nil {
			r.log.Info("created stream", "stream", r.opts.Stream, "subjects", want, "replicas", r.opts.Replicas)
			return nil
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return r.ensureStream(ctx) // another relay made it first
		}
	}
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if !slices.ContainsFunc(cfg.Subjects, func(subj string) bool { return covers(subj, r.subjects()) }) {
		return permanent("relay: stream %s takes %v, not %s", cfg.Name, cfg.Subjects, r.subjects())
	}
	if !cfg.AllowAtomicPublish {
		cfg.AllowAtomicPublish = true
		if _, err := r.js.UpdateStream(ctx, cfg); err != nil {
			return permanent("relay: stream %s does not allow atomic batch publishing and turning it on failed (the relay needs nats-server 2.12 or newer): %w", cfg.Name, err)
		}
		r.log.Info("turned on atomic batch publishing", "stream", cfg.Name)
	}
	return nil
}

// covers reports whether the stream subject filter f takes every subject
// of the wildcard s (<prefix>.<source>.>).
func covers(f, s string) bool {
	return f == s || f == ">" || len(f) > 1 && f[len(f)-1] == '>' && len(s) >= len(f) && s[:len(f)-1] == f[:len(f)-1]
}

// subjects is the filter of the source's messages.
func (r *relay) subjects() string { return r.opts.Prefix + "." + r.opts.Source + ".>" }

// lastOfSource reads the stream's last message of the source from the
// stream's leader (a direct get could answer from a replica behind it):
// where the relay resumes. A stream without one gives the zero Position.
func (r *relay) lastOfSource(ctx context.Context) (sqlaudit.Position, uint64, error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": r.subjects()})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	subj := apiPrefix(r.js) + "STREAM.MSG.GET." + r.opts.Stream
	m, err := r.js.Conn().RequestWithContext(ctx, subj, req)
	if err != nil {
		return sqlaudit.Position{}, 0, fmt.Errorf("relay: reading the stream's last message of the source (%s): %w", subj, err)
	}
	var resp struct {
		Message *struct {
			Subject string `json:"subject"`
			Seq     uint64 `json:"seq"`
			Header  []byte `json:"hdrs"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return sqlaudit.Position{}, 0, fmt.Errorf("relay: reading the last message: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return sqlaudit.Position{}, 0, nil
	case resp.Error != nil:
		return sqlaudit.Position{}, 0, resp.Error
	case resp.Message == nil:
		return sqlaudit.Position{}, 0, errors.New("relay: empty answer reading the last message")
	}
	hdr, err := nats.DecodeHeadersMsg(resp.Message.Header)
	if err != nil && len(resp.Message.Header) > 0 {
		return sqlaudit.Position{}, 0, fmt.Errorf("relay: the last message's headers: %w", err)
	}
	h, err1 := strconv.ParseInt(hdr.Get(HeaderPosition), 10, 64)
	id, err2 := strconv.ParseInt(hdr.Get(HeaderRecordID), 10, 64)
	if err1 != nil || err2 != nil || hdr.Get(HeaderSource) != r.opts.Source {
		return sqlaudit.Position{}, 0, permanent("relay: the stream's last message on %s (sequence %d, %s) was not published by a relay of source %s: no position to resume from",
			r.subjects(), resp.Message.Seq, resp.Message.Subject, r.opts.Source)
	}
	return sqlaudit.Position{Horizon: h, ID: id}, resp.Message.Seq, nil
}

// apiPrefix is the JetStream API's subject prefix of js, as jetstream.New,
// NewWithAPIPrefix or NewWithDomain set it.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}
