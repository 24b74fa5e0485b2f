package relay_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit/gather"
	"github.com/sqlaudit/sqlaudit/relay"
)

// The fault tests SIGKILL relays and gathers, so these run in child
// processes: the test binary itself, started with SQLAUDIT_CHILD set.
func TestMain(m *testing.M) {
	switch os.Getenv("SQLAUDIT_CHILD") {
	case "relay", "gather":
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child runs a relay (or a gather) as the environment says, until killed.
func child() int {
	env := os.Getenv
	nc, err := nats.Connect(env("SQLAUDIT_NATS"), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	js, _ := jetstream.New(nc)
	db, err := sql.Open(env("SQLAUDIT_DRIVER"), env("SQLAUDIT_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	ctx := context.Background()
	if env("SQLAUDIT_CHILD") == "gather" {
		err = gather.Run(ctx, db, js, gather.Options{})
	} else {
		err = relay.Run(ctx, db, js, relay.Options{Source: env("SQLAUDIT_SOURCE"), Replicas: 3, LeaseTTL: 5 * time.Second})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// proc is a child process that can be killed and started again.
type proc struct {
	name string
	env  []string
	log  string
	cmd  *exec.Cmd
}

func newProc(t *testing.T, name string, env ...string) *proc {
	p := &proc{name: name, env: env, log: filepath.Join(t.TempDir(), name+".log")}
	p.start(t)
	t.Cleanup(p.kill)
	return p
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill SIGKILLs the child and reaps it.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		p.cmd = nil
	}
}

// tail is the end of the child's log, for a failure message.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}
