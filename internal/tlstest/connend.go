package tlstest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// ReadToEnd reads from c until the connection ends or timeout passes, and
// returns what came with the error that ended it: io.EOF for a clean close
// (FIN), otherwise the read's error (a reset, os.ErrDeadlineExceeded).
func ReadToEnd(c net.Conn, timeout time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if err == nil {
		err = io.EOF
	}
	return buf.Bytes(), err
}

// DescribeEnd names how a connection ended, from the error ReadToEnd
// returned, for failure messages.
func DescribeEnd(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF (FIN)"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET (RST)"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout (connection left open)"
	}
	return err.Error()
}
