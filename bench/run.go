package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Run runs the workload o describes and returns its figures. It returns an
// error when o is not valid, when a watched process cannot be read, and
// when not a single request succeeded (the Result then says why).
func Run(ctx context.Context, o Options) (Result, error) {
	rep, err := RunReport(ctx, o)
	return rep.Result, err
}

// RunReport is Run with the latency histogram, for merging the runs of
// several processes (MergeReports).
func RunReport(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	v, err := newVerifier(o.CAFile)
	if err != nil {
		return Report{}, err
	}
	if _, err := sampleCPU(o.Watch); err != nil {
		return Report{}, err
	}
	if err := raiseNoFile(uint64(o.Concurrency + o.IdleConns + 256)); err != nil {
		return Report{}, err
	}
	r := &runner{
		o:       o,
		factory: newFactory(o, v),
		dialer:  &net.Dialer{Timeout: o.Timeout},
	}
	r.origin1 = r.originFor(1)
	if !o.StartAt.IsZero() {
		select {
		case <-time.After(time.Until(o.StartAt)):
		case <-ctx.Done():
			return Report{}, ctx.Err()
		}
	}
	if o.Workload == "idle" {
		return r.runIdle(ctx)
	}
	return r.runLoad(ctx)
}

// newFactory picks the TLS stack: crypto/tls, unless one TLS 1.3 cipher
// suite is forced, which crypto/tls does not allow.
func newFactory(o Options, v *verifier) tlsFactory {
	if o.Suite != "" {
		return newUTLSFactory(o, v)
	}
	return newStdFactory(o, v)
}

// runner is the state of one run that its workers share.
type runner struct {
	o       Options
	factory tlsFactory
	dialer  *net.Dialer
	origin1 origin
	nameSeq atomic.Uint64

	measureFrom time.Time       // start of the measured window
	stop        context.Context // done when the run ends

	claimed atomic.Int64 // measured requests started, against Count
	done    atomic.Int64 // measured requests that succeeded
	failed  atomic.Int64 // measured requests that failed
}

// worker is one client loop and everything it owns.
type worker struct {
	r         *runner
	hist      *Histogram
	errs      map[string]int64
	samples   map[string]string
	sessions  sessionCache
	rawReader *bufio.Reader
	tlsReader *bufio.Reader
	wbuf      []byte

	handshakes, resumed int64
	protocols           map[string]int64 // h2: connections by ALPN protocol
}

func (r *runner) newWorker() *worker {
	w := &worker{
		r:         r,
		hist:      NewHistogram(),
		errs:      map[string]int64{},
		samples:   map[string]string{},
		rawReader: bufio.NewReaderSize(nil, 4096),
		tlsReader: bufio.NewReaderSize(nil, 16<<10),
		wbuf:      make([]byte, 0, 512),
	}
	if r.o.Resume {
		w.sessions = r.factory.newSessions()
	}
	return w
}

// begin is called before each request: it reports when the request starts,
// whether it counts, and false once the run is over.
func (w *worker) begin() (t0 time.Time, measured, ok bool) {
	r := w.r
	if r.stop.Err() != nil {
		return t0, false, false
	}
	t0 = time.Now()
	if t0.Before(r.measureFrom) {
		return t0, false, true
	}
	if r.o.Count > 0 && r.claimed.Add(1) > int64(r.o.Count) {
		return t0, false, false
	}
	return t0, true, true
}

// finish records a request that began at t0. A request still in flight
// when the run ended does not count either way.
func (w *worker) finish(t0 time.Time, measured bool, err error) {
	if !measured || w.r.stop.Err() != nil {
		return
	}
	if err != nil {
		kind := classify(err)
		if w.errs[kind] == 0 {
			w.samples[kind] = message(err)
		}
		w.errs[kind]++
		w.r.failed.Add(1)
		return
	}
	w.hist.Record(time.Since(t0))
	w.r.done.Add(1)
}

// handshakeLoop: a new connection per request, closed after it.
func (w *worker) handshakeLoop() {
	for {
		t0, measured, ok := w.begin()
		if !ok {
			return
		}
		o := w.r.nextOrigin()
		c, err := w.dial(w.r.stop, o)
		resumed := false
		if err == nil {
			_, err = w.request(c, o, true)
			resumed = c.resumed
			c.Close()
		}
		if measured && err == nil && w.r.stop.Err() == nil {
			w.handshakes++
			if resumed {
				w.resumed++
			}
		}
		w.finish(t0, measured, err)
	}
}

// keepaliveLoop: requests back to back on one connection, a new one when
// the server closes it. A failed connect counts as a failed request, so a
// dead server cannot spin the loop past Count.
func (w *worker) keepaliveLoop() {
	for {
		t0, measured, ok := w.begin()
		if !ok {
			return
		}
		o := w.r.nextOrigin()
		c, err := w.dial(w.r.stop, o)
		if err != nil {
			w.finish(t0, measured, err)
			continue
		}
		w.keepaliveOn(c, o, measured)
		c.Close()
	}
}

// keepaliveOn sends requests back to back on c until the server closes it
// or the run ends; the first request was claimed (begin) by the caller,
// which says whether it is measured.
func (w *worker) keepaliveOn(c *conn, o origin, measured bool) {
	t0 := time.Now() // latency is the request's, not the connect's
	for {
		reusable, err := w.request(c, o, false)
		w.finish(t0, measured, err)
		if err != nil || !reusable {
			return
		}
		var ok bool
		if t0, measured, ok = w.begin(); !ok {
			return
		}
	}
}

// runLoad runs the handshake, inspect, keepalive, h2 and pipeline
// workloads.
func (r *runner) runLoad(ctx context.Context) (Report, error) {
	o := r.o
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	r.stop = stop
	start := time.Now()
	r.measureFrom = start.Add(o.Warmup)

	loop := (*worker).handshakeLoop
	switch o.Workload {
	case "keepalive":
		loop = (*worker).keepaliveLoop
	case "h2":
		loop = (*worker).h2Loop
	case "pipeline":
		loop = (*worker).pipelineLoop
	}
	workers := make([]*worker, o.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = r.newWorker()
		wg.Go(func() { loop(workers[i]) })
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	progressDone := r.startProgress(start)

	// The window opens after the warmup and closes when Duration is up,
	// Count is used up (every worker returned) or ctx is cancelled.
	select {
	case <-time.After(time.Until(r.measureFrom)):
	case <-allDone:
	case <-ctx.Done():
	}
	s0, err0 := sampleCPU(o.Watch)
	var end <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(time.Until(r.measureFrom.Add(o.Duration)))
		defer t.Stop()
		end = t.C
	}
	select {
	case <-end:
	case <-allDone:
	case <-ctx.Done():
	}
	s1, err1 := sampleCPU(o.Watch)
	seconds := time.Since(r.measureFrom).Seconds()
	cancel()
	<-allDone
	progressDone()

	rep := r.collect(workers, seconds)
	r.addCPU(&rep.Result, s0, s1)
	rep.Result.fill(rep.Histogram)
	for _, err := range []error{err0, err1, interrupted(ctx)} {
		if err != nil {
			return rep, err
		}
	}
	return rep, rep.Result.failure()
}

// collect merges the workers' figures into a Report.
func (r *runner) collect(workers []*worker, seconds float64) Report {
	h := NewHistogram()
	res := Result{
		Label: r.o.Label, Workload: r.o.Workload, Concurrency: r.o.Concurrency, Group: r.o.Group, Names: r.o.Names,
		Streams: r.o.Streams, Depth: r.o.Depth,
		Seconds: max(seconds, 0), Errors: map[string]int64{}, ErrorSamples: map[string]string{},
	}
	for _, w := range workers {
		h.Merge(w.hist)
		for k, n := range w.errs {
			res.Errors[k] += n
			if _, ok := res.ErrorSamples[k]; !ok {
				res.ErrorSamples[k] = w.samples[k]
			}
		}
		for p, n := range w.protocols {
			if res.Protocols == nil {
				res.Protocols = map[string]int64{}
			}
			res.Protocols[p] += n
		}
		if r.o.Resume {
			res.Handshakes += w.handshakes
			res.ResumedHandshakes += w.resumed
		}
	}
	if len(res.ErrorSamples) == 0 {
		res.ErrorSamples = nil
	}
	return Report{Result: res, Histogram: h}
}

// addCPU puts the CPU used between two samples into res.
func (r *runner) addCPU(res *Result, s0, s1 cpuSample) {
	res.LoadgenCPUms = ms(s1.self - s0.self)
	res.ServerCPUms = map[string]float64{}
	for i := range r.o.Watch {
		if i < len(s0.watched) && i < len(s1.watched) {
			res.ServerCPUms[r.o.watchKey(i)] = ms(s1.watched[i] - s0.watched[i])
		}
	}
}

// interrupted says that ctx ended the run early, if it did.
func interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted (%w): the figures cover the run up to then", err)
	}
	return nil
}
