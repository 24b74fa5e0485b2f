package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/relay"
)

const relayLong = `Stream the trail to NATS JetStream, exactly once and in one order per source:
every committed record, once its transaction and every transaction that could
still write before it have ended (the sealing horizon), as a message on
<prefix>.<source>.<table> whose body is the record as "log -o json" prints it.

The relay resumes from the stream's own last message of the source, so it can
be stopped, killed or cut off from NATS or the database for any time and
started again without a gap or a duplicate. One relay per source runs at a
time: a second one waits for the first's lease (or exits with --no-wait).
Needs nats-server 2.12 or newer (atomic batch publish). On MariaDB it needs the
PROCESS privilege (the horizon reads information_schema.INNODB_TRX).`

// streamFlags are the flags relay and gather share.
type streamFlags struct {
	nats, stream, prefix, logFormat string
	once                            bool
}

func (f *streamFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.nats, "nats", envOr("SQLAUDIT_NATS", nats.DefaultURL), "NATS server URL(s), comma-separated (default $SQLAUDIT_NATS)")
	cmd.Flags().StringVar(&f.stream, "stream", "AUDIT", "the JetStream stream")
	cmd.Flags().StringVar(&f.prefix, "prefix", "audit", "subject prefix: records go to <prefix>.<source>.<table>")
	cmd.Flags().BoolVar(&f.once, "once", false, "catch up and exit")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "text", "structured logs on stderr: text or json")
}

func relayCmd(g *globals) *cobra.Command {
	var f streamFlags
	var source string
	var replicas int
	var noWait bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Stream the trail to NATS JetStream, exactly once",
		Long:  relayLong,
		Example: `  sqlaudit relay --dsn postgres://relay@db/shop --nats nats://127.0.0.1:4222 --source shop
  sqlaudit relay --dsn shop.db --once            # catch up, then exit`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			db, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer db.Close()
			if source == "" {
				if source, err = defaultSource(ctx, db, g.dsn); err != nil {
					return err
				}
			}
			js, err := f.connect("sqlaudit relay "+source, log)
			if err != nil {
				return err
			}
			defer js.Conn().Close()
			p := newProgress(cmd.ErrOrStderr(), f.once)
			defer p.done()
			opts := relay.Options{Source: source, Stream: f.stream, Prefix: f.prefix, Replicas: replicas, AuditTable: g.auditTable,
				Once: f.once, Poll: poll, NoWait: noWait, Logger: log, Progress: func(s relay.Stats) {
					state := "catching up"
					if s.CaughtUp {
						state = "caught up"
					}
					p.show("relay %s: %d records published (%.0f/s), last record %d at stream seq %d, lag %s, %s",
						s.Source, s.Published, s.Rate, s.Position.ID, s.Seq, s.Lag.Round(time.Millisecond), state)
				}}
			if f.once {
				opts.GiveUp = 2 * time.Minute
			}
			return relay.Run(ctx, db, js, opts)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&source, "source", "", "this service's name in the stream (default: the database's name)")
	cmd.Flags().IntVar(&replicas, "replicas", 1, "replicas of the stream, when the relay creates it")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "exit when another relay holds the source, instead of waiting")
	cmd.Flags().DurationVar(&poll, "poll", 200*time.Millisecond, "wait between reads of the trail when caught up")
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// logger is the slog logger of --log-format.
func (f *streamFlags) logger(w io.Writer) (*slog.Logger, error) {
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, usagef("bad --log-format %q: want text or json", f.logFormat)
}

// connect opens JetStream on --nats, reconnecting for ever.
func (f *streamFlags) connect(name string, log *slog.Logger) (jetstream.JetStream, error) {
	nc, err := nats.Connect(f.nats, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("NATS at %s: %w", f.nats, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return js, nil
}

// defaultSource names the source after the database: PostgreSQL's or
// MariaDB's database name, a SQLite file's base name; what a subject token
// cannot hold becomes '_'.
func defaultSource(ctx context.Context, db *sql.DB, dsn string) (string, error) {
	var name string
	switch {
	case isMySQL(dsn):
		if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&name); err != nil {
			return "", err
		}
	case isPostgres(dsn):
		if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			return "", err
		}
	default:
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
	if name == "" {
		return "", usagef("cannot name the source after the database: pass --source")
	}
	return name, nil
}

// progress shows one status line, rewritten in place on a terminal and
// logged every 10 s elsewhere.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	last time.Time
	line string
}

func newProgress(w io.Writer, once bool) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && isatty.IsTerminal(f.Fd())}
}

func (p *progress) show(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = fmt.Sprintf(format, a...)
	every := 10 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line)
	} else {
		fmt.Fprintln(p.w, p.line)
	}
}

// done prints the last state for good.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line == "" {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", p.line)
	} else {
		fmt.Fprintln(p.w, p.line)
	}
}
