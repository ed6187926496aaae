package tlstest

import (
	"bytes"
	"net"
	"sync"
)

// RecordingConn is a net.Conn that keeps a copy of every byte read from
// it: a TLS client over it leaves the server's whole stream, still
// encrypted, for the test to take apart. Safe for concurrent use.
type RecordingConn struct {
	net.Conn
	mu sync.Mutex
	in bytes.Buffer
}

// Read reads from the connection and keeps a copy of what it got.
func (c *RecordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// Received is a copy of everything read so far.
func (c *RecordingConn) Received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.in.Bytes())
}
