// Package sqlxtest runs sqlx's write paths on the audit drivers and checks
// the trail with the differential oracle.
package sqlxtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/sqlaudit/sqlaudit/integration/internal/oracle"
)

// sqlx picks its placeholder style ($1 or ?) from the driver name; the
// audit drivers' names are not in its built-in list, so they are
// registered once, as sqlx documents for any driver it does not know.
// ("audit-sqlite3" and "audit-mysql" would default to ? anyway.)
func init() {
	sqlx.BindDriver("audit-pgx", sqlx.DOLLAR)
	sqlx.BindDriver("audit-postgres", sqlx.DOLLAR)
	sqlx.BindDriver("audit-sqlite3", sqlx.QUESTION)
	sqlx.BindDriver("audit-mysql", sqlx.QUESTION)
}

type User struct {
	ID        int64      `db:"id"`
	Name      string     `db:"name"`
	Email     string     `db:"email"`
	Age       int        `db:"age"`
	DeletedAt *time.Time `db:"deleted_at"`
}

var both = []string{"users", "posts"}

func ddl(e *oracle.Env) []string {
	if e.MySQL() {
		// MySQL ignores a REFERENCES clause on a column: the foreign key
		// is a table constraint.
		return []string{
			`CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL UNIQUE, age INT NOT NULL DEFAULT 0, deleted_at DATETIME(6))`,
			`CREATE TABLE posts (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL, title VARCHAR(100) NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)`,
		}
	}
	id, ts := "id bigserial PRIMARY KEY", "timestamptz"
	if e.SQLite() {
		id, ts = "id INTEGER PRIMARY KEY", "DATETIME"
	}
	return []string{
		`CREATE TABLE users (` + id + `, name text NOT NULL, email text NOT NULL UNIQUE, age integer NOT NULL DEFAULT 0, deleted_at ` + ts + `)`,
		`CREATE TABLE posts (` + id + `, user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE, title text NOT NULL)`,
	}
}

// setup opens sqlx on the audit driver (sqlx.Open: the driver name is the
// only change), creates the tables (DDL: no records) and three users, the
// first two with posts.
func setup(t *testing.T, e *oracle.Env) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open(e.Driver, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := oracle.Ctx("migrator")
	e.Check(t, "migrator", both, func() {
		for _, q := range ddl(e) {
			db.MustExecContext(ctx, q)
		}
	})
	ctx = oracle.Ctx("seed")
	e.Check(t, "seed", both, func() {
		_, err := db.NamedExecContext(ctx, `INSERT INTO users (name, email, age) VALUES (:name, :email, :age)`,
			[]User{{Name: "ann", Email: "ann@x", Age: 30}, {Name: "bob", Email: "bob@x", Age: 40}, {Name: "cy", Email: "cy@x", Age: 50}})
		ok(t, err)
		db.MustExecContext(ctx, `INSERT INTO posts (user_id, title) VALUES (1, 'a1'), (1, 'a2'), (2, 'b1')`)
	})
	return db
}

// concat is SQL string concatenation: || on PostgreSQL and SQLite, CONCAT
// on MySQL (where || is a logical OR).
func concat(e *oracle.Env, a, b string) string {
	if e.MySQL() {
		return "CONCAT(" + a + ", " + b + ")"
	}
	return a + " || " + b
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() {
			_, err := db.NamedExecContext(ctx, `INSERT INTO users (name, email, age) VALUES (:name, :email, :age)`, &User{Name: "dee", Email: "dee@x", Age: 20})
			ok(t, err)
		})
		e.Check(t, "alice", both, func() { // a write read back with RETURNING
			var id int64
			ok(t, db.GetContext(ctx, &id, db.Rebind(`INSERT INTO users (name, email) VALUES (?, ?) RETURNING id`), "eve", "eve@x"))
			if id == 0 {
				t.Fatal("no id")
			}
		})
		e.Check(t, "alice", both, func() {
			rows, err := db.NamedQueryContext(ctx, `INSERT INTO posts (user_id, title) VALUES (:id, :name) RETURNING id, title`, map[string]any{"id": 3, "name": "c1"})
			ok(t, err)
			n := 0
			for rows.Next() {
				var p struct {
					ID    int64  `db:"id"`
					Title string `db:"title"`
				}
				ok(t, rows.StructScan(&p))
				n++
			}
			ok(t, rows.Err())
			rows.Close()
			if n != 1 {
				t.Fatalf("%d rows", n)
			}
		})
		if e.SQLite() || e.MySQL() {
			e.Check(t, "alice", both, func() {
				res, err := db.ExecContext(ctx, `INSERT INTO users (name, email) VALUES (?, ?)`, "fay", "fay@x")
				ok(t, err)
				id, err := res.LastInsertId()
				ok(t, err)
				var name string
				ok(t, db.GetContext(ctx, &name, `SELECT name FROM users WHERE id = ?`, id))
				if name != "fay" {
					t.Fatalf("LastInsertId %d is %q", id, name)
				}
			})
		}
	})
}

func TestSaveAndUpdate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		ctx := oracle.Ctx("alice")
		var u User
		ok(t, db.GetContext(ctx, &u, db.Rebind(`SELECT * FROM users WHERE id = ?`), 3))
		u.Name, u.Age = "cyrus", 51
		e.Check(t, "alice", both, func() { // every column
			_, err := db.NamedExecContext(ctx, `UPDATE users SET name = :name, email = :email, age = :age, deleted_at = :deleted_at WHERE id = :id`, &u)
			ok(t, err)
		})
		e.Check(t, "alice", both, func() { // unchanged: no record
			_, err := db.NamedExecContext(ctx, `UPDATE users SET name = :name, email = :email, age = :age, deleted_at = :deleted_at WHERE id = :id`, &u)
			ok(t, err)
		})
		e.Check(t, "alice", both, func() { // selected column
			db.MustExecContext(ctx, db.Rebind(`UPDATE users SET name = ? WHERE id = ?`), "anna", 1)
		})
		e.Check(t, "alice", both, func() { // expression
			db.MustExecContext(ctx, db.Rebind(`UPDATE users SET age = age * ? + 1, name = upper(name) WHERE id = ?`), 2, 1)
		})
		e.Check(t, "alice", both, func() { // batch by predicate
			res := db.MustExecContext(ctx, db.Rebind(`UPDATE users SET age = age + 1 WHERE age >= ?`), 40)
			if n, _ := res.RowsAffected(); n != 3 {
				t.Fatalf("RowsAffected %d", n)
			}
		})
		e.Check(t, "alice", both, func() { // batch by key list (sqlx.In)
			q, args, err := sqlx.In(`UPDATE posts SET title = `+concat(e, "title", "'!'")+` WHERE id IN (?)`, []int{1, 3})
			ok(t, err)
			db.MustExecContext(ctx, db.Rebind(q), args...)
		})
		e.Check(t, "alice", both, func() { // soft delete as an application writes it
			db.MustExecContext(ctx, db.Rebind(`UPDATE users SET deleted_at = ? WHERE id = ?`), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 2)
		})
	})
}

func TestDeleteAndCascade(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() { db.MustExecContext(ctx, db.Rebind(`DELETE FROM users WHERE id = ?`), 3) })
		if !e.MySQL() { // SQLite records the posts the cascade deletes
			e.Check(t, "alice", both, func() { db.MustExecContext(ctx, db.Rebind(`DELETE FROM users WHERE id = ?`), 1) })
			return
		}
		e.CheckRefused(t, both, func() error {
			_, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM users WHERE id = ?`), 1) // ON DELETE CASCADE to posts
			return err
		})
		e.Check(t, "alice", both, func() {
			tx := db.MustBeginTx(ctx, nil)
			tx.MustExecContext(ctx, tx.Rebind(`DELETE FROM posts WHERE user_id = ?`), 1)
			tx.MustExecContext(ctx, tx.Rebind(`DELETE FROM users WHERE id = ?`), 1)
			ok(t, tx.Commit())
		})
	})
}

func TestUpsert(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		ctx := oracle.Ctx("alice")
		// MySQL spells the two upserts INSERT IGNORE and ON DUPLICATE KEY UPDATE.
		ignore := `INSERT INTO users (name, email) VALUES (:name, :email) ON CONFLICT (email) DO NOTHING`
		update := `INSERT INTO users (name, email, age) VALUES (:name, :email, :age) ON CONFLICT (email) DO UPDATE SET age = excluded.age, name = excluded.name`
		if e.MySQL() {
			ignore = `INSERT IGNORE INTO users (name, email) VALUES (:name, :email)`
			update = `INSERT INTO users (name, email, age) VALUES (:name, :email, :age) ON DUPLICATE KEY UPDATE age = VALUES(age), name = VALUES(name)`
		}
		e.Check(t, "alice", both, func() {
			_, err := db.NamedExecContext(ctx, ignore, []User{{Name: "dup", Email: "ann@x"}, {Name: "gil", Email: "gil@x"}})
			ok(t, err)
		})
		upsert := func() error {
			_, err := db.NamedExecContext(ctx, update, []User{{Name: "ann", Email: "ann@x", Age: 31}, {Name: "hal", Email: "hal@x", Age: 1}})
			return err
		}
		e.Check(t, "alice", both, func() { ok(t, upsert()) })
	})
}

func TestTransactions(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		ctx := oracle.Ctx("alice")
		recs := e.Check(t, "alice", both, func() {
			tx, err := db.BeginTxx(ctx, nil)
			ok(t, err)
			_, err = tx.NamedExecContext(ctx, `INSERT INTO users (name, email) VALUES (:name, :email)`, &User{Name: "tx", Email: "tx@x"})
			ok(t, err)
			tx.MustExecContext(ctx, tx.Rebind(`UPDATE users SET age = age + 10 WHERE age < ?`), 45)
			tx.MustExecContext(ctx, tx.Rebind(`DELETE FROM posts WHERE user_id = ?`), 2)
			ok(t, tx.Commit())
		})
		oracle.OneTx(t, recs)
		e.Check(t, "alice", both, func() {
			tx, err := db.BeginTxx(ctx, nil)
			ok(t, err)
			tx.MustExecContext(ctx, `UPDATE users SET name = 'x'`)
			tx.MustExecContext(ctx, `DELETE FROM posts`)
			ok(t, tx.Rollback())
		})
	})
}

// Prepared statements (Preparex, PrepareNamed) inside and outside a
// transaction: the actor is the one of the context the statement is
// executed with.
func TestPreparedStatements(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		st, err := db.PreparexContext(oracle.Ctx("preparer"), db.Rebind(`UPDATE users SET age = age + ? WHERE id = ?`))
		ok(t, err)
		defer st.Close()
		for i := 1; i <= 3; i++ {
			e.Check(t, "alice", both, func() { st.MustExecContext(oracle.Ctx("alice"), i, i) })
		}
		ns, err := db.PrepareNamedContext(oracle.Ctx("preparer"), `INSERT INTO posts (user_id, title) VALUES (:user_id, :title)`)
		ok(t, err)
		defer ns.Close()
		e.Check(t, "bob", both, func() {
			_, err := ns.ExecContext(oracle.Ctx("bob"), map[string]any{"user_id": 3, "title": "c1"})
			ok(t, err)
		})
		recs := e.Check(t, "carol", both, func() {
			ctx := oracle.Ctx("carol")
			tx := db.MustBeginTx(ctx, nil)
			tx.StmtxContext(ctx, st).MustExecContext(ctx, 100, 1)
			_, err := tx.NamedStmtContext(ctx, ns).ExecContext(ctx, map[string]any{"user_id": 1, "title": "a3"})
			ok(t, err)
			ok(t, tx.Commit())
		})
		oracle.OneTx(t, recs)
		// Exec without a context: no actor, even though it was prepared with one.
		e.Check(t, "", both, func() { st.MustExec(1, 2) })
	})
}

// The methods without the Context suffix run with context.Background():
// their records have no actor.
func TestContextCarriesTheActor(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := setup(t, e)
		e.Check(t, "", both, func() {
			db.MustExec(db.Rebind(`UPDATE users SET age = ? WHERE id = ?`), 1, 1)
			_, err := db.NamedExec(`UPDATE users SET age = :age WHERE id = :id`, map[string]any{"age": 2, "id": 2})
			ok(t, err)
			tx := db.MustBegin()
			tx.MustExec(db.Rebind(`UPDATE users SET age = ? WHERE id = ?`), 3, 3)
			ok(t, tx.Commit())
		})
		// Beginx without a context, then ExecContext with one: the statement's context counts.
		e.Check(t, "dan", both, func() {
			tx := db.MustBegin()
			tx.MustExecContext(oracle.Ctx("dan"), db.Rebind(`UPDATE users SET age = ? WHERE id = ?`), 4, 1)
			ok(t, tx.Commit())
		})
		cancelled, cancel := context.WithCancel(oracle.Ctx("erin"))
		cancel()
		e.Check(t, "", both, func() {
			if _, err := db.ExecContext(cancelled, db.Rebind(`UPDATE users SET age = ? WHERE id = ?`), 5, 1); !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
		})
	})
}
