// Package gather is the other end of package relay: a durable JetStream
// consumer that writes the records every relay published into one central
// PostgreSQL trail, so that the trail package, the sqlaudit CLI (log,
// history, show … with --source) and the web viewer read many services at
// once.
//
// The central table has the columns of a service's own audit table plus
// source (the relay's source name), source_id and source_tx_id (the
// record's id and transaction in the source's trail). Its id is the
// store's own, in the order records were gathered; its tx_id is unique
// across sources (the source's number, from the <table>_sources table,
// times 2^48 plus the source's tx_id), so a transaction page never mixes
// two services. Writes are idempotent by (source, source_id), and a batch
// of messages is acknowledged only after its transaction committed: a
// gather killed at any point redelivers what it had not acknowledged and
// skips what it had already written. One gather per consumer runs at a
// time: it holds a PostgreSQL advisory lock on the connection it writes
// through, so a second one waits.
package gather
