package sqlaudit_test

import (
	"strings"
	"testing"
)

// Statements exactly as ORMs and query builders emit them (GORM, sqlc, bun,
// ent), through the differential oracle. PostgreSQL form; the SQLite form
// swaps $n for ? and double quotes for GORM's backticks.
func TestORMStatementShapesAreRecordedExactly(t *testing.T) {
	type step struct {
		orm  string
		q    string
		args []any
	}
	steps := []step{
		{"GORM Create", `INSERT INTO "users" ("name","age","created_at","deleted_at") VALUES ($1,$2,$3,$4) RETURNING "id"`, []any{"ann", 30, "2026-01-01", nil}},
		{"ent bulk create", `INSERT INTO "users" ("name", "age", "created_at") VALUES ($1, $2, $3), ($4, $5, $6) RETURNING "id"`, []any{"bob", 40, "2026-01-02", "cy", 50, "2026-01-03"}},
		{"GORM Save (all columns)", `UPDATE "users" SET "name"=$1,"age"=$2,"created_at"=$3,"deleted_at"=$4 WHERE "users"."deleted_at" IS NULL AND "id" = $5`, []any{"ann", 31, "2026-01-01", nil, 1}},
		{"GORM Updates (selected columns, expression)", `UPDATE "users" SET "age"=age + $1 WHERE "users"."id" = $2 AND "users"."deleted_at" IS NULL`, []any{1, 2}},
		{"sqlc :exec with its name comment", "-- name: RenameUser :exec\nUPDATE users SET name = $1 WHERE id = $2", []any{"bobby", 2}},
		{"GORM clause.OnConflict", `INSERT INTO "users" ("id","name","age","created_at") VALUES ($1,$2,$3,$4),($5,$6,$7,$8) ON CONFLICT ("id") DO UPDATE SET "name"="excluded"."name","age"="excluded"."age"`, []any{3, "cyd", 51, "2026-01-03", 4, "dee", 60, "2026-01-04"}},
		{"bun bulk update", `WITH "_data" ("id", "age") AS (VALUES (1, 32), (2, 42)) UPDATE "users" AS "u" SET "age" = _data."age" FROM _data WHERE ("u"."id" = _data."id")`, nil},
		{"GORM soft delete", `UPDATE "users" SET "deleted_at"=$1 WHERE "users"."id" = $2 AND "users"."deleted_at" IS NULL`, []any{"2026-02-01", 3}},
		{"GORM batch delete", `DELETE FROM "users" WHERE "users"."id" IN ($1,$2)`, []any{1, 4}},
		{"ent update with predicate", `UPDATE "users" SET "age" = "users"."age" + $1 WHERE "users"."age" > $2`, []any{1, 10}},
		{"GORM clause.OnConflict on MySQL", "my:INSERT INTO `users` (`id`,`name`,`age`,`created_at`) VALUES (?,?,?,?),(?,?,?,?) ON DUPLICATE KEY UPDATE `name`=VALUES(`name`),`age`=VALUES(`age`)", []any{3, "cyd", 52, "2026-01-03", 9, "ida", 19, "2026-01-09"}},
		{"GORM Create on MySQL (LastInsertId, no RETURNING)", `INSERT INTO "users" ("name","age","created_at","deleted_at") VALUES ($1,$2,$3,$4)`, []any{"eve", 22, "2026-03-01", nil}},
	}
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		id := "id bigserial PRIMARY KEY"
		switch {
		case isSQLite(drv):
			id = "id INTEGER PRIMARY KEY"
		case isMySQL(drv):
			id = "id bigint AUTO_INCREMENT PRIMARY KEY"
		}
		mustExec(t, td.plain, `CREATE TABLE users (`+id+`, name text, age integer, created_at text, deleted_at text)`)
		for _, s := range steps {
			q := s.q
			if strings.HasPrefix(q, "my:") {
				if !isMySQL(drv) {
					continue
				}
				q = q[3:]
			}
			if isSQLite(drv) || isMySQL(drv) {
				if isMySQL(drv) && (strings.Contains(q, "ON CONFLICT") || strings.HasPrefix(q, "WITH")) {
					continue // MySQL has another upsert form; bun's MySQL bulk update has another form
				}
				q = strings.ReplaceAll(sqlitePlaceholders(q), `"`, "`")
			}
			checkChange(t, td, "users", []string{"id"}, func() {
				rows, err := db.Query(q, s.args...)
				if err != nil {
					t.Fatalf("%s: %s: %v", s.orm, q, err)
				}
				rows.Close()
			})
		}
	})
}

// sqlitePlaceholders turns $1, $2 … into ? (in order, as GORM's SQLite
// dialect writes them).
func sqlitePlaceholders(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			b.WriteByte('?')
			for i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
				i++
			}
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
