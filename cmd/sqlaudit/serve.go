package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail/web"
)

const serveLong = `Serve the web viewer of the trail: the timeline of transactions with filters,
each transaction with its statements and cascades, a row's history and the row
as of any point, and the seal status with verify — plus the JSON API the pages
use (/api/…).

It listens on 127.0.0.1:8080 by default: loopback only, so only this machine
can reach it. It has no authentication of its own: anyone who can reach the
address reads the whole trail. To look from elsewhere, prefer an SSH tunnel
(ssh -L 8080:127.0.0.1:8080 host) to --addr 0.0.0.0:8080; to put the viewer
behind your application's login, mount its Go handler instead
(github.com/sqlaudit/sqlaudit/trail/web).

Reverts are off unless --allow-revert; each is recorded with --actor (default:
the OS user) as its actor.`

func serveCmd(g *globals) *cobra.Command {
	var addr, actor string
	var allowRevert bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web viewer of the trail (on loopback only by default)",
		Long:  serveLong,
		Example: `  sqlaudit serve --dsn shop.db                      # then open http://127.0.0.1:8080/
  sqlaudit serve --dsn postgres://auditor@db/app --addr 127.0.0.1:9000
  sqlaudit serve --dsn app.db --allow-revert --actor alice`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if actor == "" {
				actor = osUser()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			db, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer db.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w", addr, err)
			}
			opts := web.Options{AuditTable: g.auditTable, Title: "sqlaudit"}
			if allowRevert {
				opts.Authorize = func(*http.Request, web.Permission) bool { return true }
				opts.User = func(*http.Request) string { return actor }
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "sqlaudit viewer on http://%s/\n", ln.Addr())
			if loopback(ln.Addr()) {
				fmt.Fprintln(out, "listening on loopback only: this machine alone can reach it (no authentication; --addr changes it)")
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: listening on %s, reachable from other machines, without authentication: anyone who reaches it reads the whole trail\n", ln.Addr())
			}
			if allowRevert {
				fmt.Fprintf(out, "reverts allowed, recorded with actor %q\n", actor)
			}
			return serve(ctx, ln, web.Handler(db, opts))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (loopback by default; 0.0.0.0:8080 exposes the trail to the network)")
	cmd.Flags().BoolVar(&allowRevert, "allow-revert", false, "let the viewer revert transactions")
	cmd.Flags().StringVar(&actor, "actor", "", "the actor recorded for reverts (default: the OS user)")
	return cmd
}

// serve answers on ln until ctx ends, then lets running requests finish.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopback reports an address only this machine reaches.
func loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// osUser names the user running the command, for a revert's actor.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
