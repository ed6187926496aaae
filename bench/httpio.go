package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The load generator speaks just enough HTTP/1.1 by hand to read whole
// responses without net/http's allocations and goroutines in the hot path.

// appendGET appends a GET request; last asks the server to close after
// the response.
func appendGET(b []byte, path, host string, last bool) []byte {
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	if last {
		b = append(b, "\r\nConnection: close"...)
	}
	return append(b, "\r\n\r\n"...)
}

// appendCONNECT appends a CONNECT request for authority (host:port).
func appendCONNECT(b []byte, authority string) []byte {
	b = append(b, "CONNECT "...)
	b = append(b, authority...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, authority...)
	return append(b, "\r\n\r\n"...)
}

// head is what the reader needs from a response head.
type head struct {
	status        int
	contentLength int64 // -1: not given
	chunked       bool
	close         bool // the connection ends after this response
}

var errLineTooLong = errors.New("response header line longer than the read buffer")

// readLine returns one line without its CRLF; the slice is valid until
// the next read from r.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errLineTooLong
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// readHead reads a status line and headers.
func readHead(r *bufio.Reader) (head, error) {
	h := head{contentLength: -1}
	line, err := readLine(r)
	if err != nil {
		if err == io.EOF {
			return h, errors.New("the server closed the connection before responding")
		}
		return h, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return h, fmt.Errorf("malformed status line %q", trunc(line))
	}
	h.close = line[7] == '0' // HTTP/1.0 closes unless it says keep-alive
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 100 {
		return h, fmt.Errorf("malformed status code in %q", trunc(line))
	}
	h.status = code
	for {
		line, err := readLine(r)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, fmt.Errorf("reading response headers: %w", err)
		}
		if len(line) == 0 {
			return h, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, fmt.Errorf("malformed header line %q", trunc(line))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return h, fmt.Errorf("malformed Content-Length %q", trunc(value))
			}
			h.contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				h.close = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				h.close = false
			}
		}
	}
}

// readResponse reads one whole response to a GET and reports its status
// and whether the connection can carry another request.
func readResponse(r *bufio.Reader) (status int, reusable bool, err error) {
	for {
		h, err := readHead(r)
		if err != nil {
			return 0, false, err
		}
		if h.status >= 100 && h.status < 200 {
			continue // an interim response; the real one follows
		}
		switch {
		case h.status == 204 || h.status == 304:
		case h.chunked:
			err = discardChunked(r)
		case h.contentLength >= 0:
			err = discardN(r, h.contentLength)
		default:
			// Delimited by the end of the connection.
			_, err = io.Copy(io.Discard, r)
			h.close = true
		}
		if err != nil {
			return h.status, false, fmt.Errorf("reading the response body: %w", err)
		}
		return h.status, !h.close, nil
	}
}

func discardN(r *bufio.Reader, n int64) error {
	for n > 0 {
		k, err := r.Discard(int(min(n, 1<<30)))
		n -= int64(k)
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// readBodyLine is readLine inside a body, where the end of the stream is
// a cut.
func readBodyLine(r *bufio.Reader) ([]byte, error) {
	line, err := readLine(r)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return line, err
}

func discardChunked(r *bufio.Reader) error {
	for {
		line, err := readBodyLine(r)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("malformed chunk size %q", trunc(line))
		}
		if size == 0 {
			// Trailers end with an empty line.
			for {
				line, err := readBodyLine(r)
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := discardN(r, size+2); err != nil {
			return err
		}
	}
}

func trunc(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
