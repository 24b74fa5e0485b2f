package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/trail"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// Product is the shop's one table.
type Product struct {
	ID    int64   `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
	Stock int64   `json:"stock"`
}

// App is the service: GORM over an audit driver.
type App struct {
	db *gorm.DB
	// Table is the products table as the trail names it: "products", or
	// "schema.products" outside PostgreSQL's public schema (on MariaDB,
	// tables of the DSN's database are named plainly).
	Table string
}

// Open connects to dsn (a SQLite file, a postgres:// URL or mysql:// and a
// go-sql-driver DSN for MariaDB) through the audit drivers and migrates the
// schema.
func Open(dsn string) (*App, error) {
	var dial gorm.Dialector
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		dial = postgres.New(postgres.Config{DriverName: "audit-pgx", DSN: dsn})
	case strings.HasPrefix(dsn, "mysql://"):
		dial = mysql.New(mysql.Config{DriverName: "audit-mysql", DSN: strings.TrimPrefix(dsn, "mysql://")})
	case strings.HasPrefix(dsn, "file:"):
		dial = sqlite.New(sqlite.Config{DriverName: "audit-sqlite3", DSN: dsn})
	default:
		dial = sqlite.New(sqlite.Config{DriverName: "audit-sqlite3", DSN: "file:" + dsn + "?_busy_timeout=5000"})
	}
	db, err := gorm.Open(dial, &gorm.Config{})
	if err != nil {
		return nil, err
	}
	if err := db.AutoMigrate(&Product{}); err != nil {
		return nil, err
	}
	return &App{db: db, Table: "products"}, nil
}

// Handler routes the API behind the audit middleware.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /products", a.create)
	mux.HandleFunc("PATCH /products/{id}", a.update)
	mux.HandleFunc("DELETE /products/{id}", a.delete)
	mux.HandleFunc("POST /products/discount", a.discount)
	mux.HandleFunc("GET /products/{id}/history", a.history)
	return audited(mux)
}

// audited puts the authenticated user (HTTP basic auth; a real service
// would verify the password) and the request id into the request context:
// every write below is recorded with them.
func audited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if user, _, ok := r.BasicAuth(); ok && user != "" {
			ctx = sqlaudit.WithActor(ctx, user)
		} else if r.Method != http.MethodGet {
			http.Error(w, "writes need a user (basic auth)", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("X-Request-Id")
		if id == "" {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		ctx = sqlaudit.WithMetadata(ctx, map[string]any{"request_id": id, "path": r.URL.Path})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *App) create(w http.ResponseWriter, r *http.Request) {
	var p Product
	if !decode(w, r, &p) {
		return
	}
	if err := a.db.WithContext(r.Context()).Create(&p).Error; err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusCreated, p)
}

func (a *App) update(w http.ResponseWriter, r *http.Request) {
	var change map[string]any
	if !decode(w, r, &change) {
		return
	}
	res := a.db.WithContext(r.Context()).Model(&Product{}).Where("id = ?", r.PathValue("id")).Updates(change)
	if res.Error != nil || res.RowsAffected == 0 {
		fail(w, errors.Join(res.Error, notFound(res.RowsAffected)))
		return
	}
	reply(w, http.StatusOK, map[string]any{"updated": res.RowsAffected})
}

func (a *App) delete(w http.ResponseWriter, r *http.Request) {
	res := a.db.WithContext(r.Context()).Delete(&Product{}, r.PathValue("id"))
	if res.Error != nil || res.RowsAffected == 0 {
		fail(w, errors.Join(res.Error, notFound(res.RowsAffected)))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// discount lowers every price by a percentage: one set-based UPDATE, one
// record per product.
func (a *App) discount(w http.ResponseWriter, r *http.Request) {
	var d struct{ Percent float64 }
	if !decode(w, r, &d) {
		return
	}
	res := a.db.WithContext(r.Context()).Model(&Product{}).Where("1 = 1").
		Update("price", gorm.Expr("round(price * ?, 2)", 1-d.Percent/100))
	if res.Error != nil {
		fail(w, res.Error)
		return
	}
	reply(w, http.StatusOK, map[string]any{"updated": res.RowsAffected})
}

func (a *App) history(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad product id", http.StatusBadRequest)
		return
	}
	sqlDB, err := a.db.DB()
	if err != nil {
		fail(w, err)
		return
	}
	recs, err := trail.History(r.Context(), sqlDB, a.Table, trail.Key{"id": id})
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, http.StatusOK, recs)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "bad JSON body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

var errNotFound = errors.New("no such product")

func notFound(rows int64) error {
	if rows == 0 {
		return errNotFound
	}
	return nil
}

func fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errNotFound):
		code = http.StatusNotFound
	case errors.Is(err, sqlaudit.ErrUnsupported):
		code = http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled):
		code = 499
	}
	http.Error(w, err.Error(), code)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
