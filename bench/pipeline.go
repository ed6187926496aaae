package bench

import (
	"errors"
	"fmt"
	"time"
)

// errUnanswered is a pipelined request the server closed the connection
// on before answering it.
var errUnanswered = errors.New("the server ended the connection with pipelined requests unanswered")

// pipelineLoop: Depth requests written back to back on one connection, in
// one write, then their Depth responses read in order (RFC 9112 §9.3.2:
// a server answers pipelined requests in the order it received them);
// then the next batch. Each request's latency runs from the batch's write
// to the end of its own response. A new connection when the server
// closes it; a failed connect counts as one failed request, as in
// keepaliveLoop.
func (w *worker) pipelineLoop() {
	depth := w.r.o.Depth
	measured := make([]bool, depth)
	for {
		t0, m, ok := w.begin()
		if !ok {
			return
		}
		o := w.r.nextOrigin()
		c, err := w.dial(w.r.stop, o)
		if err != nil {
			w.finish(t0, m, err)
			continue
		}
		measured[0] = m
		more := w.pipelineOn(c, o, measured)
		c.Close()
		if !more {
			return
		}
	}
}

// pipelineOn runs batches on c until the connection ends (true: go on
// with a new one) or the run does (false). The first request of the first
// batch is already claimed, its measured flag in measured[0].
func (w *worker) pipelineOn(c *conn, o origin, measured []bool) (more bool) {
	claimed := 1
	for {
		for claimed < len(measured) {
			_, m, ok := w.begin()
			if !ok {
				break
			}
			measured[claimed] = m
			claimed++
		}
		n := claimed
		if n == 0 {
			return false
		}
		w.wbuf = w.wbuf[:0]
		for range n {
			w.wbuf = appendGET(w.wbuf, w.r.o.Path, o.authority, false)
		}
		t0 := time.Now()
		_ = c.raw.SetDeadline(t0.Add(w.r.o.Timeout))
		if _, err := c.tls.Write(w.wbuf); err != nil {
			w.failFrom(measured[:n], t0, &kindError{errHTTP, fmt.Errorf("writing %d pipelined requests: %w", n, err)})
			return true
		}
		for i := range n {
			status, reusable, err := readResponse(c.r)
			if err != nil {
				w.failFrom(measured[i:n], t0, &kindError{errHTTP, err})
				return true
			}
			if status < 200 || status > 299 {
				w.finish(t0, measured[i], &kindError{errStatus, fmt.Errorf("status %d", status)})
			} else {
				w.finish(t0, measured[i], nil)
			}
			if !reusable {
				if i+1 < n {
					w.failFrom(measured[i+1:n], t0, &kindError{errHTTP, errUnanswered})
				}
				return true
			}
		}
		if n < len(measured) {
			return false // the run ended while this batch was claimed
		}
		claimed = 0
	}
}

// failFrom records err for each of the requests of a batch that had no
// answer.
func (w *worker) failFrom(measured []bool, t0 time.Time, err error) {
	for _, m := range measured {
		w.finish(t0, m, err)
	}
}
