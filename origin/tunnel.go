package origin

import "net"

// TunnelConn is the connection to a bypassed destination: the client's
// bytes pass through it as they are, never decrypted.
type TunnelConn struct{ net.Conn }

// Tunnel wraps conn, a connection from Dial, for a bypassed destination.
// It only adds CloseWrite, so a relay can pass on the client's half-close.
// It blocks in nothing; the returned connection's Read and Write block as
// conn's do.
func Tunnel(conn net.Conn) *TunnelConn { return &TunnelConn{conn} }

// CloseWrite half-closes the TCP connection: the destination reads EOF
// and may still answer. A connection that is not TCP is left as it is.
func (t *TunnelConn) CloseWrite() error {
	if tc, ok := t.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}
