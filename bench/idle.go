package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// runIdle opens IdleConns connections (each with its handshake and one
// request done, so every per-connection structure in the proxy exists),
// holds them for Duration, and reports how much each watched process's
// RSS grew per connection. The setup is what the latency figures measure.
func (r *runner) runIdle(ctx context.Context) (Report, error) {
	o := r.o
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	r.stop = stop
	start := time.Now()
	r.measureFrom = start

	rss0, err := sampleRSS(o.Watch)
	if err != nil {
		return Report{}, err
	}
	s0, err := sampleCPU(o.Watch)
	if err != nil {
		return Report{}, err
	}
	progressDone := r.startProgress(start)

	// Workers share the IdleConns slots through Count.
	r.o.Count = o.IdleConns
	workers := make([]*worker, min(o.Concurrency, o.IdleConns))
	held := make([][]*conn, len(workers))
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = r.newWorker()
		wg.Go(func() { held[i] = workers[i].openIdle() })
	}
	wg.Wait()
	setup := time.Since(start).Seconds()
	s1, errCPU := sampleCPU(o.Watch)
	progressDone()

	defer func() {
		for _, cs := range held {
			for _, c := range cs {
				c.Close()
			}
		}
	}()
	n := 0
	for _, cs := range held {
		n += len(cs)
	}
	// Hold: a proxy that frees memory lazily, or keeps a per-connection
	// timer, shows it now.
	select {
	case <-time.After(o.Duration):
	case <-ctx.Done():
	}
	rss1, errRSS := sampleRSS(o.Watch)

	rep := r.collect(workers, setup)
	r.addCPU(&rep.Result, s0, s1)
	rep.Result.fill(rep.Histogram)
	if n > 0 && errRSS == nil {
		rep.Result.IdleBytesPerConn = map[string]float64{}
		for i := range o.Watch {
			rep.Result.IdleBytesPerConn[o.watchKey(i)] = float64(rss1[i]-rss0[i]) / float64(n)
		}
	}
	for _, err := range []error{errCPU, errRSS, interrupted(ctx)} {
		if err != nil {
			return rep, err
		}
	}
	return rep, rep.Result.failure()
}

var errClosedAfterResponse = errors.New("the server closed the connection after the response: idle needs connections that stay open")

// openIdle opens connections until the run's slots are used up and
// returns those that stay open.
func (w *worker) openIdle() []*conn {
	var held []*conn
	for {
		t0, measured, ok := w.begin()
		if !ok {
			return held
		}
		o := w.r.nextOrigin()
		c, err := w.dial(w.r.stop, o)
		if err == nil {
			// The response is read with the worker's reader; nothing is
			// read from a held connection after it.
			var reusable bool
			reusable, err = w.request(c, o, false)
			if err == nil && !reusable {
				err = &kindError{errHTTP, errClosedAfterResponse}
			}
			if err != nil {
				c.Close()
			} else {
				_ = c.raw.SetDeadline(time.Time{})
				held = append(held, c)
			}
		}
		w.finish(t0, measured, err)
	}
}

// sampleRSS reads the RSS of each watched process.
func sampleRSS(pids []int) ([]int64, error) {
	rss := make([]int64, len(pids))
	for i, pid := range pids {
		v, err := procRSS(pid)
		if err != nil {
			return nil, fmt.Errorf("sampling memory: %w", err)
		}
		rss[i] = v
	}
	return rss, nil
}
