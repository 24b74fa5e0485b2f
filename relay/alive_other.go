//go:build !unix

package relay

// processAlive cannot tell here: the lease is waited out.
func processAlive(int) bool { return true }
