package httphead

import (
	"reflect"
	"testing"
)

func TestResponseReader(t *testing.T) {
	stream := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" // HEAD: no body
	type done struct{ status, size int }
	want := []done{{200, 43}, {404, 87}, {304, 49}, {200, 39}}
	heads := []bool{false, false, false, true}
	for _, step := range []int{1, 3, 7, len(stream)} {
		var got []done
		i := 0
		r := &ResponseReader{
			IsHead: func() bool { h := heads[i]; i++; return h },
			Done:   func(status int, size int64) { got = append(got, done{status, int(size)}) },
		}
		for off := 0; off < len(stream); off += step {
			r.Feed([]byte(stream[off:min(off+step, len(stream))]))
		}
		if !reflect.DeepEqual(got, want) || r.Opaque() {
			t.Fatalf("fed %d bytes at a time: got %v (opaque %v), want %v", step, got, r.Opaque(), want)
		}
	}
}

func TestResponseReaderOpaque(t *testing.T) {
	for name, s := range map[string]string{
		"switching protocols": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nraw bytes",
		"read until close":    "HTTP/1.1 200 OK\r\n\r\nbody without length",
		"not HTTP":            "SSH-2.0-OpenSSH\r\n\r\n",
		"bad chunk size":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		var n int
		r := &ResponseReader{Done: func(int, int64) { n++ }}
		r.Feed([]byte(s))
		if !r.Opaque() {
			t.Errorf("%s: stream still framed", name)
		}
	}
}
