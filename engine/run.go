package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/lucid-edge/lucid/tlsmitm"
)

// Runner runs one gnet engine for an application (terminate, the proxy)
// and holds what stopping it needs. Its methods are safe for concurrent
// use.
type Runner struct {
	addr     string
	eng      gnet.Engine
	booted   chan struct{}
	done     chan struct{} // closed when gnet.Run returns
	runErr   error         // what gnet.Run returned; read after done
	stopOnce sync.Once
}

// ServeConfig is what Serve needs besides the handler.
type ServeConfig struct {
	Addr  string // port 0 picks a free port
	Loops int
	// TLS is the server config every loop copies (with its own slab as
	// Memory). Unless NoTickets, Serve gives it one set of session ticket
	// keys for the whole process, zeroed when the engine stops.
	TLS       *tlsmitm.Config
	NoTickets bool
	KeyMemory int // each loop's slab
	Logger    *slog.Logger
}

// Serve fills ls with one Loop per event loop and runs gnet with h, which
// must call Runner.Boot from its OnBoot; it returns once the listener
// accepts. h may use ls from its first event on (gnet's ticker can run
// before Serve returns). The loops' memory and the ticket keys are zeroed
// when the engine stops, after the optional stopped has run.
func Serve(h gnet.EventHandler, run *Runner, ls *Loops, cfg ServeConfig, stopped func()) error {
	addr, reusePort, err := resolveListenAddr(cfg.Addr)
	if err != nil {
		return err
	}
	base := *cfg.TLS
	if !cfg.NoTickets {
		base.Tickets = tlsmitm.NewTicketKeys(time.Hour)
	}
	cleanup := func() {
		if stopped != nil {
			stopped()
		}
		ls.close()
		if base.Tickets != nil {
			base.Tickets.Close() // zeroes the ticket keys
		}
	}
	if err := ls.prepare(cfg.Loops, &base, cfg.KeyMemory); err != nil {
		cleanup() // prepare has closed its loops; this zeroes the ticket keys
		return err
	}
	reportMemoryLock(cfg.Logger, ls.all)
	return run.start(h, addr, cfg.Loops, reusePort, cfg.Logger, cleanup)
}

// NewRunner returns a Runner for one Serve.
func NewRunner() *Runner {
	return &Runner{booted: make(chan struct{}), done: make(chan struct{})}
}

// Boot records the engine; the handler's OnBoot calls it.
func (r *Runner) Boot(eng gnet.Engine) {
	r.eng = eng
	close(r.booted)
}

// start serves h on addr with one loop per core and returns once the
// listener accepts. cleanup runs after the loops have stopped.
func (r *Runner) start(h gnet.EventHandler, addr string, loops int, reusePort bool, logger *slog.Logger, cleanup func()) error {
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
		_ = r.Stop(context.Background())
		return err
	}
	return nil
}

// Addr is the address the listener is bound to.
func (r *Runner) Addr() string { return r.addr }

// Stop closes the listener and every connection, and waits for the loops.
func (r *Runner) Stop(ctx context.Context) error {
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

// Wait blocks until the engine stops and returns why.
func (r *Runner) Wait() error {
	<-r.done
	return r.runErr
}
