package trail

// SetScanChunk makes Transactions scan n record ids at a time, so that
// small test trails take many chunks; it returns the undo.
func SetScanChunk(n int) func() {
	old := scanChunk
	scanChunk = n
	return func() { scanChunk = old }
}
