// Package buntest runs bun's write paths on the audit drivers and checks
// the trail with the differential oracle.
package buntest

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"

	"github.com/sqlaudit/sqlaudit/integration/internal/oracle"
)

type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID        int64     `bun:"id,pk,autoincrement"`
	Name      string    `bun:"name,notnull"`
	Email     string    `bun:"email,notnull,unique"`
	Age       int       `bun:"age,notnull"`
	Posts     []*Post   `bun:"rel:has-many,join:id=user_id"`
	DeletedAt time.Time `bun:"deleted_at,soft_delete,nullzero"`
}

type Post struct {
	bun.BaseModel `bun:"table:posts,alias:p"`

	ID     int64  `bun:"id,pk,autoincrement"`
	UserID int64  `bun:"user_id,notnull"`
	Title  string `bun:"title,notnull"`
}

var both = []string{"users", "posts"}

// open opens bun over sql.Open of the audit driver with the database's
// dialect, as bun documents for any database/sql driver.
func open(t *testing.T, e *oracle.Env) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open(e.Driver, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var db *bun.DB
	switch {
	case e.SQLite():
		db = bun.NewDB(sqldb, sqlitedialect.New())
	case e.MySQL():
		db = bun.NewDB(sqldb, mysqldialect.New())
	default:
		db = bun.NewDB(sqldb, pgdialect.New())
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// createTables is the schema, made with bun's own DDL queries.
func createTables(ctx context.Context, db *bun.DB) error {
	if _, err := db.NewCreateTable().Model((*User)(nil)).IfNotExists().Exec(ctx); err != nil {
		return err
	}
	_, err := db.NewCreateTable().Model((*Post)(nil)).IfNotExists().
		ForeignKey(`(user_id) REFERENCES users (id) ON DELETE CASCADE`).Exec(ctx) // unquoted: "…" is a string in MySQL
	return err
}

// setup opens bun, creates the tables (no records) and three users, the
// first two with posts.
func setup(t *testing.T, e *oracle.Env) (*bun.DB, []*User) {
	t.Helper()
	db := open(t, e)
	e.Check(t, "migrator", both, func() { ok(t, createTables(oracle.Ctx("migrator"), db)) })
	users := []*User{{Name: "ann", Email: "ann@x", Age: 30}, {Name: "bob", Email: "bob@x", Age: 40}, {Name: "cy", Email: "cy@x", Age: 50}}
	ctx := oracle.Ctx("seed")
	e.Check(t, "seed", both, func() {
		_, err := db.NewInsert().Model(&users).Exec(ctx)
		ok(t, err)
		posts := []*Post{{UserID: users[0].ID, Title: "a1"}, {UserID: users[0].ID, Title: "a2"}, {UserID: users[1].ID, Title: "b1"}}
		_, err = db.NewInsert().Model(&posts).Exec(ctx)
		ok(t, err)
	})
	return db, users
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func exec(t *testing.T, q interface {
	Exec(context.Context, ...any) (sql.Result, error)
}, ctx context.Context) sql.Result {
	t.Helper()
	res, err := q.Exec(ctx)
	ok(t, err)
	return res
}

// bun's migrator keeps its state in two tables, bun_migrations and
// bun_migration_locks, through ordinary INSERTs and DELETEs: those are
// audited like any other table.
func TestMigrator(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db := open(t, e)
		ctx := oracle.Ctx("migrator")
		migrations := migrate.NewMigrations()
		migrations.Add(migrate.Migration{
			Name: "20260101000000", Comment: "users_posts",
			Up: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
				return createTables(ctx, m.DB())
			},
			Down: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
				_, err := m.DB().NewDropTable().Model((*Post)(nil)).Exec(ctx)
				return err
			},
		})
		migrations.Add(migrate.Migration{
			Name: "20260102000000", Comment: "seed",
			Up: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
				_, err := m.DB().NewInsert().Model(&User{Name: "root", Email: "root@x"}).Exec(ctx)
				return err
			},
		})
		migrator := migrate.NewMigrator(db, migrations)
		tables := []string{"users", "posts", "bun_migrations", "bun_migration_locks"}
		e.Check(t, "migrator", tables, func() {
			ok(t, migrator.Init(ctx))
			ok(t, migrator.Lock(ctx))
			_, err := migrator.Migrate(ctx)
			ok(t, err)
			ok(t, migrator.Unlock(ctx))
		})
		if e.Count(t, "bun_migrations") != 2 || e.Count(t, "users") != 1 {
			t.Fatal("migrations not applied")
		}
	})
}

func TestCreate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, _ := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() {
			u := &User{Name: "dee", Email: "dee@x", Age: 20}
			exec(t, db.NewInsert().Model(u), ctx)
			if u.ID == 0 {
				t.Fatal("no id back (RETURNING)")
			}
		})
		e.Check(t, "alice", both, func() {
			batch := []User{{Name: "e1", Email: "e1@x"}, {Name: "e2", Email: "e2@x"}}
			exec(t, db.NewInsert().Model(&batch), ctx)
		})
		e.Check(t, "alice", both, func() {
			exec(t, db.NewInsert().Model(&map[string]any{"name": "m", "email": "m@x", "age": 3}).TableExpr("users"), ctx)
		})
	})
}

func TestUpdate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		u := users[2]
		u.Name, u.Age = "cyrus", 51
		e.Check(t, "alice", both, func() { exec(t, db.NewUpdate().Model(u).WherePK(), ctx) }) // every column
		e.Check(t, "alice", both, func() { exec(t, db.NewUpdate().Model(u).WherePK(), ctx) }) // unchanged
		u.Name, u.Age = "cy", 0
		e.Check(t, "alice", both, func() { exec(t, db.NewUpdate().Model(u).Column("name").WherePK(), ctx) })
		e.Check(t, "alice", both, func() {
			exec(t, db.NewUpdate().Model((*User)(nil)).Set("age = age * ? + 1", 2).Set("name = upper(name)").Where("id = ?", users[0].ID), ctx)
		})
		e.Check(t, "alice", both, func() { // by predicate
			res := exec(t, db.NewUpdate().Model((*User)(nil)).Set("age = age + 1").Where("age >= ?", 40), ctx)
			if n, _ := res.RowsAffected(); n != 3 {
				t.Fatalf("RowsAffected %d", n)
			}
		})
		e.Check(t, "alice", both, func() { // OmitZero: only the non-zero fields
			exec(t, db.NewUpdate().Model(&User{ID: users[1].ID, Name: "bobby"}).OmitZero().WherePK(), ctx)
		})
	})
}

// Bulk update: WITH _data (VALUES …) UPDATE … FROM _data.
//
// On MySQL bun writes it as WITH _data AS (SELECT * FROM (VALUES ROW(…), …)
// AS t (…)) UPDATE users AS u, _data SET … WHERE u.id = _data.id: a
// multi-table UPDATE under WITH, which audit-mysql refuses (the wrapper
// cannot see which rows such a statement changes). MariaDB could not run it
// either (VALUES ROW(…) is MySQL 8 syntax: error 1064 with the plain
// driver). The refusal comes before the server sees the statement: nothing
// changes, no record. What works on MySQL: one UPDATE per row (WherePK),
// in one transaction.
func TestBulkUpdate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		users[0].Age, users[1].Age, users[2].Name = 1, 2, "cyd"
		if e.MySQL() {
			e.CheckRefused(t, both, func() error {
				_, err := db.NewUpdate().Model(&users).Column("name", "age").Bulk().Exec(ctx)
				return err
			})
			e.CheckRefused(t, both, func() error {
				posts := []*Post{{ID: 1, Title: "x1"}, {ID: 3, Title: "x3"}}
				_, err := db.NewUpdate().With("_data", db.NewValues(&posts)).Model((*Post)(nil)).TableExpr("_data").
					Set("title = _data.title").Where("p.id = _data.id").Exec(ctx)
				return err
			})
			recs := e.Check(t, "alice", both, func() {
				ok(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					for _, u := range users {
						if _, err := tx.NewUpdate().Model(u).Column("name", "age").WherePK().Exec(ctx); err != nil {
							return err
						}
					}
					return nil
				}))
			})
			oracle.OneTx(t, recs)
			return
		}
		e.Check(t, "alice", both, func() { exec(t, db.NewUpdate().Model(&users).Column("age").Bulk(), ctx) })
		e.Check(t, "alice", both, func() { exec(t, db.NewUpdate().Model(&users).Column("name", "age").Bulk(), ctx) })
		posts := []*Post{{ID: 1, Title: "x1"}, {ID: 3, Title: "x3"}}
		e.Check(t, "alice", both, func() {
			values := db.NewValues(&posts)
			exec(t, db.NewUpdate().With("_data", values).Model((*Post)(nil)).TableExpr("_data").
				Set("title = _data.title").Where("p.id = _data.id"), ctx)
		})
	})
}

func TestSoftAndHardDelete(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() { exec(t, db.NewDelete().Model(users[0]).WherePK(), ctx) }) // soft: UPDATE deleted_at
		e.Check(t, "alice", both, func() { exec(t, db.NewDelete().Model((*User)(nil)).Where("age > ?", 45), ctx) })
		e.Check(t, "alice", both, func() {
			exec(t, db.NewUpdate().Model((*User)(nil)).WhereAllWithDeleted().Set("deleted_at = NULL").Where("id = ?", users[0].ID), ctx)
		}) // restore
		// Hard delete of a user without posts.
		e.Check(t, "alice", both, func() { exec(t, db.NewDelete().Model(users[2]).WherePK().ForceDelete(), ctx) })
		// With posts: ON DELETE CASCADE would delete them unseen, refused on
		// MariaDB; SQLite and PostgreSQL record the posts the cascade deletes.
		if !e.MySQL() {
			e.Check(t, "alice", both, func() { exec(t, db.NewDelete().Model(users[0]).WherePK().ForceDelete(), ctx) })
			return
		}
		e.CheckRefused(t, both, func() error {
			_, err := db.NewDelete().Model(users[0]).WherePK().ForceDelete().Exec(ctx)
			return err
		})
		e.Check(t, "alice", both, func() {
			ok(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.NewDelete().Model((*Post)(nil)).Where("user_id = ?", users[0].ID).Exec(ctx); err != nil {
					return err
				}
				_, err := tx.NewDelete().Model(users[0]).WherePK().ForceDelete().Exec(ctx)
				return err
			}))
		})
		e.Check(t, "alice", both, func() { exec(t, db.NewDelete().Model((*Post)(nil)).Where("1 = 1"), ctx) })
	})
}

func TestUpsert(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, _ := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() { // ON CONFLICT DO NOTHING / INSERT OR IGNORE / INSERT IGNORE
			exec(t, db.NewInsert().Model(&[]User{{Name: "dup", Email: "ann@x"}, {Name: "gil", Email: "gil@x"}}).Ignore(), ctx)
		})
		upsert := func() error {
			q := db.NewInsert().Model(&[]User{{Name: "ann", Email: "ann@x", Age: 31}, {Name: "hal", Email: "hal@x", Age: 1}})
			if e.MySQL() { // bun's MySQL form: ON DUPLICATE KEY UPDATE, recorded
				q = q.On("DUPLICATE KEY UPDATE").Set("age = VALUES(age)")
			} else {
				q = q.On("CONFLICT (email) DO UPDATE").Set("age = EXCLUDED.age")
			}
			_, err := q.Exec(ctx)
			return err
		}
		e.Check(t, "alice", both, func() { ok(t, upsert()) })
	})
}

func TestRelations(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		// bun does not save relations itself: the application inserts the
		// children of a loaded parent.
		var u User
		ok(t, db.NewSelect().Model(&u).Relation("Posts").Where("u.id = ?", users[0].ID).Scan(ctx))
		if len(u.Posts) != 2 {
			t.Fatalf("%d posts", len(u.Posts))
		}
		for _, p := range u.Posts {
			p.Title += "!"
		}
		u.Posts = append(u.Posts, &Post{UserID: u.ID, Title: "a3"})
		if e.MySQL() {
			// INSERT IGNORE, then the titles: Bulk() is a multi-table
			// UPDATE under WITH on MySQL, refused (see TestBulkUpdate), so
			// one UPDATE per post.
			e.Check(t, "alice", both, func() { exec(t, db.NewInsert().Model(&u.Posts).Ignore(), ctx) })
			e.CheckRefused(t, both, func() error {
				_, err := db.NewUpdate().Model(&u.Posts).Column("title").Bulk().Exec(ctx)
				return err
			})
			e.Check(t, "alice", both, func() {
				for _, p := range u.Posts {
					exec(t, db.NewUpdate().Model(p).Column("title").WherePK(), ctx)
				}
			})
			return
		}
		e.Check(t, "alice", both, func() {
			exec(t, db.NewInsert().Model(&u.Posts).On("CONFLICT DO NOTHING"), ctx)
			exec(t, db.NewUpdate().Model(&u.Posts).Column("title").Bulk(), ctx)
		})
	})
}

func TestTransactions(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		work := func(ctx context.Context, tx bun.Tx, email string) error {
			if _, err := tx.NewInsert().Model(&User{Name: "tx", Email: email}).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewUpdate().Model((*User)(nil)).Set("age = age + 10").Where("age < ?", 45).Exec(ctx); err != nil {
				return err
			}
			_, err := tx.NewDelete().Model((*Post)(nil)).Where("user_id = ?", users[1].ID).Exec(ctx)
			return err
		}
		recs := e.Check(t, "alice", both, func() {
			ok(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return work(ctx, tx, "tx@x") }))
		})
		oracle.OneTx(t, recs)
		errStop := errors.New("stop")
		e.Check(t, "alice", both, func() {
			err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				if err := work(ctx, tx, "tx2@x"); err != nil {
					return err
				}
				return errStop
			})
			if !errors.Is(err, errStop) {
				t.Fatal(err)
			}
		})
		recs = e.Check(t, "alice", both, func() {
			tx, err := db.BeginTx(ctx, nil)
			ok(t, err)
			exec(t, tx.NewUpdate().Model(users[2]).Set("name = ?", "cyd").WherePK(), ctx)
			exec(t, tx.NewInsert().Model(&Post{UserID: users[2].ID, Title: "c1"}), ctx)
			ok(t, tx.Commit())
		})
		oracle.OneTx(t, recs)
		e.Check(t, "alice", both, func() {
			tx, err := db.BeginTx(ctx, nil)
			ok(t, err)
			exec(t, tx.NewUpdate().Model(users[2]).Set("name = ?", "nope").WherePK(), ctx)
			ok(t, tx.Rollback())
		})
	})
}

// Every bun query takes the context at Exec(ctx); the database/sql methods
// bun.DB inherits without a context (db.Exec) run with context.Background().
func TestContextCarriesTheActor(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		db, users := setup(t, e)
		e.Check(t, "bob", both, func() {
			exec(t, db.NewRaw("UPDATE users SET age = ? WHERE id = ?", 7, users[0].ID), oracle.Ctx("bob"))
			_, err := db.ExecContext(oracle.Ctx("bob"), "UPDATE users SET age = ? WHERE id = ?", 8, users[1].ID)
			ok(t, err)
		})
		e.Check(t, "", both, func() {
			_, err := db.Exec("UPDATE users SET age = ? WHERE id = ?", 9, users[2].ID)
			ok(t, err)
		})
		// The context given to BeginTx does not carry to statements run with
		// another context: each statement's own context counts.
		e.Check(t, "carol", both, func() {
			tx, err := db.BeginTx(oracle.Ctx("dan"), nil)
			ok(t, err)
			exec(t, tx.NewUpdate().Model(users[2]).Set("age = 1").WherePK(), oracle.Ctx("carol"))
			ok(t, tx.Commit())
		})
	})
}
