package main

import (
	"context"
	"database/sql"
	"strings"
)

// isCentral reports whether the audit table is a central store written by
// sqlaudit gather: it has a source column. Reads then carry each record's
// source and take --source.
func isCentral(ctx context.Context, db *sql.DB, table string) bool {
	q := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
	if s, t, ok := strings.Cut(table, "."); ok {
		q = `"` + s + `"."` + t + `"`
	}
	rows, err := db.QueryContext(ctx, "SELECT source FROM "+q+" WHERE 1 = 0")
	if err != nil {
		return false
	}
	rows.Close()
	return true
}
