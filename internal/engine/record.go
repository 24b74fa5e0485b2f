package engine

// RecordColumns are the audit table's columns a dialect's record INSERT
// names, in this order; id and occurred_at take their defaults (MySQL names
// id itself, see its dialect).
const RecordColumns = "tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query"

// RedactedValue replaces the value of a redacted column in a record.
const RedactedValue = "[redacted]"
