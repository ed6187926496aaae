package httphead_test

import (
	"testing"

	"github.com/lucid-edge/lucid/internal/httphead"
)

// FuzzResponseReader feeds arbitrary origin output, split at a fuzzed
// point, to the response framer the proxy runs on relayed HTTP/1.1.
func FuzzResponseReader(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), uint16(7))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), uint16(30))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		var total int64
		r := &httphead.ResponseReader{IsHead: func() bool { return false }, Done: func(status int, size int64) {
			if status < 100 || status > 999 || size < 0 {
				t.Fatalf("status %d size %d", status, size)
			}
			total += size
		}}
		cut := int(split) % (len(data) + 1)
		r.Feed(data[:cut])
		r.Feed(data[cut:])
		if total > int64(len(data)) {
			t.Fatalf("responses add up to %d bytes of %d", total, len(data))
		}
	})
}
