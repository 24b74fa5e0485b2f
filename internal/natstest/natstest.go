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
	dir := t.TempDir()
	clientPorts, routePorts := freePorts(t, n), freePorts(t, n)
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
		c.start(t, i)
	}
	t.Cleanup(c.Shutdown)
	for i := range n {
		c.ready(t, i)
	}
	return c
}

func (c *Cluster) start(t testing.TB, i int) {
	t.Helper()
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		t.Fatalf("natstest: node %d: %v", i+1, err)
	}
	go s.Start()
	c.nodes[i] = s
}

func (c *Cluster) ready(t testing.TB, i int) {
	t.Helper()
	if !c.nodes[i].ReadyForConnections(20 * time.Second) {
		t.Fatalf("natstest: node %d not ready", i+1)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(c.nodes) > 1 && !c.nodes[i].JetStreamIsCurrent() {
		if time.Now().After(deadline) {
			t.Fatalf("natstest: node %d: JetStream not current after 30s", i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	c.start(t, i)
	c.ready(t, i)
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for i := range c.nodes {
		c.Stop(i)
	}
}

// freePorts finds n loopback ports nothing listens on.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
