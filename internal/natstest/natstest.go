// Package natstest runs NATS JetStream servers for tests, embedded
// (github.com/nats-io/nats-server/v2): a single node or a cluster on
// loopback ports of their own, each with its own store directory, never
// the machine's NATS on 4222. It is the module's own server at the
// version go.mod names — Debian's nats-server package (2.9) is older
// than the atomic batch publishing the relay needs (2.12).
package natstest

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a set of JetStream nodes routed to each other.
type Cluster struct {
	nodes []*server.Server
	opts  []*server.Options
}

// Start runs an n-node JetStream cluster (n = 1: a single server) until
// the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := Run(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// Run starts an n-node JetStream cluster storing under dir, for programs
// (the benchmark); stop it with Shutdown.
func Run(dir string, n int) (*Cluster, error) {
	clientPorts, routePorts, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range routePorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	c := &Cluster{}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: clientPorts[i],
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "sqa", Host: "127.0.0.1", Port: routePorts[i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}
		c.opts = append(c.opts, o)
		c.nodes = append(c.nodes, nil)
	}
	for i := range n {
		if err := c.start(i); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	for i := range n {
		if err := c.ready(i); err != nil {
			c.Shutdown()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) start(i int) error {
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		return fmt.Errorf("natstest: node %d: %w", i+1, err)
	}
	go s.Start()
	c.nodes[i] = s
	return nil
}

func (c *Cluster) ready(i int) error {
	if !c.nodes[i].ReadyForConnections(20 * time.Second) {
		return fmt.Errorf("natstest: node %d not ready", i+1)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(c.nodes) > 1 && !c.nodes[i].JetStreamIsCurrent() {
		if time.Now().After(deadline) {
			return fmt.Errorf("natstest: node %d: JetStream not current after 30s", i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// URL lists every node's client URL, for nats.Connect.
func (c *Cluster) URL() string {
	var urls []string
	for _, o := range c.opts {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(urls, ",")
}

// Stop shuts node i down (0-based); its store stays for Restart.
func (c *Cluster) Stop(i int) {
	if s := c.nodes[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.nodes[i] = nil
	}
}

// Restart starts node i again on its ports and store, and waits until its
// JetStream has caught up.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	c.Stop(i)
	if err := c.start(i); err != nil {
		t.Fatal(err)
	}
	if err := c.ready(i); err != nil {
		t.Fatal(err)
	}
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for i := range c.nodes {
		c.Stop(i)
	}
}

// freePorts finds n client and n route ports on loopback that nothing
// listens on.
func freePorts(n int) (clients, routes []int, err error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range 2 * n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ls = append(ls, l)
		if p := l.Addr().(*net.TCPAddr).Port; i < n {
			clients = append(clients, p)
		} else {
			routes = append(routes, p)
		}
	}
	return clients, routes, nil
}
