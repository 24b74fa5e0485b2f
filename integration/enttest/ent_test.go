// Package enttest runs ent's write paths on the audit drivers and checks
// the trail with the differential oracle. The ent client is generated
// from ./ent/schema (see ./ent/generate.go) and committed.
package enttest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/sqlaudit/sqlaudit/integration/enttest/ent"
	"github.com/sqlaudit/sqlaudit/integration/enttest/ent/post"
	"github.com/sqlaudit/sqlaudit/integration/enttest/ent/user"
	"github.com/sqlaudit/sqlaudit/integration/internal/oracle"
)

var both = []string{"users", "posts"}

// open opens ent over sql.Open of the audit driver, as ent documents for
// an existing *sql.DB: entsql.OpenDB with the database's dialect.
func open(t *testing.T, e *oracle.Env) *ent.Client {
	t.Helper()
	db, err := sql.Open(e.Driver, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	d := dialect.Postgres
	switch {
	case e.SQLite():
		d = dialect.SQLite
	case e.MySQL():
		d = dialect.MySQL
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(d, db)))
	t.Cleanup(func() { client.Close() })
	return client
}

// setup opens ent, migrates the schema (no records) and creates three
// users, the first two with posts.
func setup(t *testing.T, e *oracle.Env) (*ent.Client, []*ent.User) {
	t.Helper()
	client := open(t, e)
	e.Check(t, "migrator", both, func() { ok(t, migrate(oracle.Ctx("migrator"), client)) })
	ctx := oracle.Ctx("seed")
	var users []*ent.User
	e.Check(t, "seed", both, func() {
		var err error
		users, err = client.User.CreateBulk(
			client.User.Create().SetName("ann").SetAge(30),
			client.User.Create().SetName("bob").SetAge(40),
			client.User.Create().SetName("cy").SetAge(50),
		).Save(ctx)
		ok(t, err)
		_, err = client.Post.CreateBulk(
			client.Post.Create().SetTitle("a1").SetUser(users[0]),
			client.Post.Create().SetTitle("a2").SetUser(users[0]),
			client.Post.Create().SetTitle("b1").SetUser(users[1]),
		).Save(ctx)
		ok(t, err)
	})
	return client, users
}

// migrateMu serializes Schema.Create: ent's Atlas migration writes the
// generated package-level table descriptions (migrate.Tables) on every
// run, so two clients migrating at once race (in ent, not in the driver).
var migrateMu sync.Mutex

func migrate(ctx context.Context, client *ent.Client) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	return client.Schema.Create(ctx)
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Schema.Create (ent's auto-migration, through Atlas) is DDL only: no
// records, also when it alters an existing schema (the second run).
func TestMigrate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client := open(t, e)
		ctx := oracle.Ctx("migrator")
		e.Check(t, "migrator", both, func() { ok(t, migrate(ctx, client)) })
		e.Check(t, "migrator", both, func() { ok(t, migrate(ctx, client)) })
		if e.Snap(t, "users") == nil || e.Snap(t, "posts") == nil {
			t.Fatal("tables not created")
		}
	})
}

func TestCreate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() {
			u, err := client.User.Create().SetName("dee").SetAge(20).Save(ctx)
			ok(t, err)
			if u.ID == 0 {
				t.Fatal("no id back")
			}
		})
		e.Check(t, "alice", both, func() { // default age
			ok(t, client.User.Create().SetName("eve").Exec(ctx))
		})
		e.Check(t, "alice", both, func() { // bulk
			ok(t, client.User.CreateBulk(client.User.Create().SetName("e1"), client.User.Create().SetName("e2").SetAge(2)).Exec(ctx))
		})
		e.Check(t, "alice", both, func() { // with an edge: the FK column of the new post
			ok(t, client.Post.Create().SetTitle("c1").SetUserID(users[2].ID).Exec(ctx))
		})
		e.Check(t, "alice", both, func() { // parent with existing children: INSERT, then UPDATE of the posts' FK
			p, err := client.Post.Create().SetTitle("orphan").Save(ctx)
			ok(t, err)
			ok(t, client.User.Create().SetName("fay").AddPosts(p).Exec(ctx))
		})
	})
}

func TestUpdate(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() { // UPDATE … SET age = COALESCE(age, 0) + 1
			u, err := client.User.UpdateOneID(users[0].ID).AddAge(1).Save(ctx)
			ok(t, err)
			if u.Age != 31 {
				t.Fatalf("age %d", u.Age)
			}
		})
		e.Check(t, "alice", both, func() { ok(t, client.User.UpdateOne(users[2]).SetName("cyrus").SetAge(51).Exec(ctx)) })
		e.Check(t, "alice", both, func() { ok(t, client.User.UpdateOne(users[2]).SetName("cyrus").Exec(ctx)) }) // unchanged
		// Bulk, by predicate.
		e.Check(t, "alice", both, func() {
			n, err := client.User.Update().Where(user.AgeGTE(40)).AddAge(1).Save(ctx)
			ok(t, err)
			if n != 2 {
				t.Fatalf("%d rows", n)
			}
		})
		e.Check(t, "alice", both, func() {
			n, err := client.Post.Update().Where(post.HasUserWith(user.Name("ann"))).SetTitle("ann's").Save(ctx)
			ok(t, err)
			if n != 2 {
				t.Fatalf("%d rows", n)
			}
		})
	})
}

// Edges are FK columns of posts: adding, removing and clearing them are
// UPDATEs of posts.
func TestEdges(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		posts := client.User.QueryPosts(users[0]).AllX(ctx)
		e.Check(t, "alice", both, func() { ok(t, client.User.UpdateOne(users[0]).RemovePosts(posts[0]).Exec(ctx)) })
		e.Check(t, "alice", both, func() { ok(t, client.User.UpdateOne(users[2]).AddPosts(posts[0]).Exec(ctx)) })
		e.Check(t, "alice", both, func() { ok(t, client.User.UpdateOne(users[0]).ClearPosts().Exec(ctx)) })
		e.Check(t, "alice", both, func() { ok(t, client.Post.UpdateOne(posts[1]).SetUser(users[1]).Exec(ctx)) })
	})
}

func TestDelete(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		posts := client.User.QueryPosts(users[0]).AllX(ctx)
		e.Check(t, "alice", both, func() { ok(t, client.Post.DeleteOneID(posts[0].ID).Exec(ctx)) })
		e.Check(t, "alice", both, func() { ok(t, client.User.DeleteOne(users[2]).Exec(ctx)) }) // no posts
		// Bulk, by predicate.
		e.Check(t, "alice", both, func() {
			n, err := client.Post.Delete().Where(post.TitleHasPrefix("b")).Exec(ctx)
			ok(t, err)
			if n != 1 {
				t.Fatalf("%d rows", n)
			}
		})
		// users[0] still has a post: ON DELETE CASCADE would delete it
		// unseen, refused on MariaDB; SQLite and PostgreSQL record the post
		// the cascade deletes.
		if !e.MySQL() {
			e.Check(t, "alice", both, func() { ok(t, client.User.DeleteOneID(users[0].ID).Exec(ctx)) })
			return
		}
		e.CheckRefused(t, both, func() error { return client.User.DeleteOneID(users[0].ID).Exec(ctx) })
		e.CheckRefused(t, both, func() error {
			_, err := client.User.Delete().Where(user.AgeLT(100)).Exec(ctx)
			return err
		})
		// Delete the children first, in the same transaction.
		recs := e.Check(t, "alice", both, func() {
			tx, err := client.Tx(ctx)
			ok(t, err)
			_, err = tx.Post.Delete().Where(post.HasUserWith(user.ID(users[0].ID))).Exec(ctx)
			ok(t, err)
			ok(t, tx.User.DeleteOneID(users[0].ID).Exec(ctx))
			ok(t, tx.Commit())
		})
		oracle.OneTx(t, recs)
		e.Check(t, "alice", both, func() { // bulk, all
			n, err := client.User.Delete().Exec(ctx)
			ok(t, err)
			if n != 1 {
				t.Fatalf("%d rows", n)
			}
		})
	})
}

func TestUpsert(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, _ := setup(t, e)
		ctx := oracle.Ctx("alice")
		e.Check(t, "alice", both, func() { // ON CONFLICT DO NOTHING
			err := client.User.CreateBulk(client.User.Create().SetName("ann").SetAge(99), client.User.Create().SetName("gil")).
				OnConflictColumns(user.FieldName).DoNothing().Exec(ctx)
			ok(t, err)
		})
		upsert := func() error {
			return client.User.Create().SetName("ann").SetAge(31).
				OnConflictColumns(user.FieldName).UpdateNewValues().Exec(ctx)
		}
		bulk := func() error {
			return client.User.CreateBulk(client.User.Create().SetName("bob").SetAge(41), client.User.Create().SetName("hal").SetAge(1)).
				OnConflictColumns(user.FieldName).UpdateNewValues().Exec(ctx)
		}
		// On MySQL ent's single-row upsert appends `id` =
		// LAST_INSERT_ID(`users`.`id`) to ON DUPLICATE KEY UPDATE to read the
		// id back: it changes no column, and LastInsertId is the row's id.
		e.Check(t, "alice", both, func() { ok(t, upsert()) })
		e.Check(t, "alice", both, func() { ok(t, bulk()) })
	})
}

func TestTransactions(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		ctx := oracle.Ctx("alice")
		work := func(tx *ent.Tx, name string) {
			ok(t, tx.User.Create().SetName(name).Exec(ctx))
			_, err := tx.User.Update().Where(user.AgeLT(45)).AddAge(10).Save(ctx)
			ok(t, err)
			_, err = tx.Post.Delete().Where(post.HasUserWith(user.ID(users[1].ID))).Exec(ctx)
			ok(t, err)
		}
		recs := e.Check(t, "alice", both, func() {
			tx, err := client.Tx(ctx)
			ok(t, err)
			work(tx, "tx")
			ok(t, tx.Commit())
		})
		oracle.OneTx(t, recs)
		e.Check(t, "alice", both, func() {
			tx, err := client.Tx(ctx)
			ok(t, err)
			work(tx, "tx2")
			ok(t, tx.Rollback())
		})
		// WithTx-style helper: an error rolls back.
		errStop := errors.New("stop")
		e.Check(t, "alice", both, func() {
			err := withTx(ctx, client, func(tx *ent.Tx) error {
				if err := tx.User.UpdateOneID(users[2].ID).SetName("nope").Exec(ctx); err != nil {
					return err
				}
				return errStop
			})
			if !errors.Is(err, errStop) {
				t.Fatal(err)
			}
		})
	})
}

// withTx is the transaction helper of ent's documentation.
func withTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	return tx.Commit()
}

// ent passes the context of each call (Save(ctx), Exec(ctx), …) to
// database/sql: that context's actor is recorded. In a transaction the
// statement's context counts, not the one given to client.Tx.
func TestContextCarriesTheActor(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		client, users := setup(t, e)
		e.Check(t, "bob", both, func() {
			ok(t, client.User.UpdateOneID(users[0].ID).SetAge(7).Exec(oracle.Ctx("bob")))
			ok(t, client.Post.Create().SetTitle("x").SetUser(users[0]).Exec(oracle.Ctx("bob")))
		})
		e.Check(t, "", both, func() {
			ok(t, client.User.UpdateOneID(users[1].ID).SetAge(8).Exec(context.Background()))
		})
		e.Check(t, "carol", both, func() {
			tx, err := client.Tx(oracle.Ctx("dan"))
			ok(t, err)
			ok(t, tx.User.UpdateOneID(users[2].ID).SetAge(1).Exec(oracle.Ctx("carol")))
			ok(t, tx.Commit())
		})
	})
}
