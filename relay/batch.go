package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// maxBatch is JetStream's default limit on an atomic batch.
const maxBatch = 1000

// message is a record as its message.
func (r *relay) message(rec trail.Record, pos sqlaudit.Position) (*nats.Msg, error) {
	body, err := json.Marshal(rec)
	if err != nil {
		return nil, permanent("relay: record %d: %w", rec.ID, err)
	}
	m := nats.NewMsg(r.opts.Prefix + "." + r.opts.Source + "." + tableSubject(rec.Table))
	m.Data = body
	m.Header.Set(HeaderSource, r.opts.Source)
	m.Header.Set(HeaderRecordID, strconv.FormatInt(rec.ID, 10))
	m.Header.Set(HeaderTxID, strconv.FormatInt(rec.TxID, 10))
	m.Header.Set(HeaderPosition, strconv.FormatInt(pos.Horizon, 10))
	if rec.Actor != "" {
		m.Header.Set(HeaderActor, rec.Actor)
	}
	m.Header.Set(jetstream.MsgIDHeader, r.opts.Source+"."+strconv.FormatInt(rec.ID, 10))
	return m, nil
}

// pubAck is the answer to a batch's commit.
type pubAck struct {
	Stream string              `json:"stream"`
	Seq    uint64              `json:"seq"`
	Batch  string              `json:"batch"`
	Count  int                 `json:"count"`
	Error  *jetstream.APIError `json:"error"`
}

// publish sends msgs as one atomic batch whose first message expects the
// source's last message in the stream to be at sequence last (0: none),
// and returns the sequence of the batch's last message. Only the commit
// asks for an answer: a message lost on the way makes the server refuse
// the whole batch as incomplete.
func (r *relay) publish(ctx context.Context, msgs []*nats.Msg, last uint64) (uint64, error) {
	nc := r.js.Conn()
	id := nuid.Next()
	for i, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(last, 10))
			m.Header.Set("Nats-Expected-Last-Subject-Sequence-Subject", r.subjects())
		}
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(m); err != nil {
				return 0, err
			}
		}
	}
	commit := msgs[len(msgs)-1]
	commit.Header.Set("Nats-Batch-Commit", "1")
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := nc.RequestMsgWithContext(ctx, commit)
	if err != nil {
		return 0, fmt.Errorf("relay: committing a batch of %d: %w", len(msgs), err)
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("relay: the batch's acknowledgement %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return 0, r.batchError(ack.Error, len(msgs))
	}
	if ack.Count != len(msgs) || ack.Batch != id {
		return 0, fmt.Errorf("relay: the server acknowledged batch %q of %d, sent %q of %d", ack.Batch, ack.Count, id, len(msgs))
	}
	return ack.Seq, nil
}

// batchError sorts a refused batch: a wrong last sequence (another relay,
// or a retry of a batch that did go in) and the like are retried after
// reading the position again; what no retry can change is permanent.
func (r *relay) batchError(e *jetstream.APIError, n int) error {
	switch e.ErrorCode {
	case jetstream.JSErrCodeStreamMessageExceedsMaximum:
		return permanent("relay: a record of the next batch is larger than the stream takes (%v): raise the stream's max message size", e)
	case 10174: // atomic publish disabled on the stream
		return permanent("relay: stream %s does not allow atomic batch publishing: %v", r.opts.Stream, e)
	}
	return fmt.Errorf("relay: batch of %d refused: %w", n, e)
}
