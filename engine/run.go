package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/panjf2000/gnet/v2"
)

// runner runs one gnet engine for a handler and holds what stopping it
// needs. TerminateServer and ProxyServer share it. Its methods are safe
// for concurrent use.
type runner struct {
	addr     string
	eng      gnet.Engine
	booted   chan struct{}
	done     chan struct{} // closed when gnet.Run returns
	runErr   error         // what gnet.Run returned; read after done
	stopOnce sync.Once
}

func newRunner() *runner {
	return &runner{booted: make(chan struct{}), done: make(chan struct{})}
}

// boot records the engine; the handler's OnBoot calls it.
func (r *runner) boot(eng gnet.Engine) {
	r.eng = eng
	close(r.booted)
}

// start serves h on addr with one loop per core and returns once the
// listener accepts. cleanup runs after the loops have stopped.
func (r *runner) start(h gnet.EventHandler, addr string, loops int, reusePort bool, logger *slog.Logger, cleanup func()) error {
	go func() {
		defer close(r.done)
		defer cleanup()
		r.runErr = gnet.Run(h, "tcp://"+addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(loops),
			gnet.WithReusePort(reusePort),
			gnet.WithTicker(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{logger}),
		)
	}()
	select {
	case <-r.booted:
	case <-r.done:
		return fmt.Errorf("engine: listening on %s: %w", addr, r.runErr)
	}
	var err error
	r.addr, err = boundAddr(r.eng)
	if err != nil {
		_ = r.stop(context.Background())
		return err
	}
	return nil
}

// stop closes the listener and every connection, and waits for the loops.
func (r *runner) stop(ctx context.Context) error {
	var err error
	r.stopOnce.Do(func() {
		err = r.eng.Stop(ctx)
		if err == nil {
			select {
			case <-r.done:
				err = r.runErr
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	})
	return err
}

// wait blocks until the engine stops and returns why.
func (r *runner) wait() error {
	<-r.done
	return r.runErr
}
