// Package relay streams an audit trail to NATS JetStream, exactly once and
// in one total order per source: Run reads the records that are final (see
// sqlaudit.Final: below the sealing code's horizon, so a record whose
// transaction commits late is never skipped and a rolled-back one never
// sent) and publishes each as a message on <prefix>.<source>.<table>, its
// body the record as JSON in the shape of trail.Record (sqlaudit log -o
// json), with headers naming the source, record id, transaction and actor.
//
// Exactly once rests on the stream, not on a position kept elsewhere:
// records go out in atomic batches (JetStream's all-or-nothing batch
// publish, nats-server 2.12 or newer), each batch's first message expecting
// the stream's last message of the source to be the one the relay last
// saw (Nats-Expected-Last-Subject-Sequence over <prefix>.<source>.>). On
// start, and after any error, the relay reads that last message back and
// resumes after the record it names. A batch is either wholly in the
// stream or not at all, and a batch sent twice — a retry after a lost
// acknowledgement, a second relay — is refused by the expectation, however
// long after the duplicate window. So a relay killed at any point, NATS
// down for an hour, or a node restarting mid-batch, never leaves a gap or
// a duplicate.
//
// One relay per source runs at a time: a lease in a JetStream key-value
// bucket (expiring when not renewed) makes a second one wait, or exit with
// Options.NoWait; the expectation above fences a relay that lost its lease
// without noticing.
package relay
