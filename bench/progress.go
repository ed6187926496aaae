package bench

import (
	"fmt"
	"time"
)

// startProgress prints a live line to Options.Progress, and calls
// Options.OnProgress, once per second until the returned function is
// called, which ends the line.
func (r *runner) startProgress(start time.Time) (stop func()) {
	if r.o.Progress == nil && r.o.OnProgress == nil {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-quit:
				if r.o.Progress != nil {
					fmt.Fprintln(r.o.Progress)
				}
				return
			case now := <-tick.C:
				done, failed := r.done.Load(), r.failed.Load()
				if r.o.OnProgress != nil {
					r.o.OnProgress(done, failed)
				}
				if r.o.Progress == nil {
					continue
				}
				if now.Before(r.measureFrom) {
					fmt.Fprintf(r.o.Progress, "\r%s %5.1fs  warming up          ", r.o.Workload, now.Sub(start).Seconds())
					continue
				}
				fmt.Fprintf(r.o.Progress, "\r%s %5.1fs  %9d ok  %8d/s  %6d errors   ",
					r.o.Workload, now.Sub(r.measureFrom).Seconds(), done, done-last, failed)
				last = done
			}
		}
	}()
	return func() { close(quit); <-exited }
}
