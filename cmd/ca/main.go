// Command ca is Lucid's CA service and the tool that administers it.
//
//	ca init  -config FILE    make the data folder, store, vault, service root and admin token
//	ca serve -config FILE    run the CA until SIGINT or SIGTERM
//
// Every other command talks to a running CA's admin API, found from
// -config FILE (its admin address and token file) or from -admin URL and
// -token-file FILE. Run `ca help` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/server"
	"github.com/lucid-edge/lucid/internal/nodump"
)

const usage = `usage: ca COMMAND [flags]

Running the CA:
  ca init  -config FILE      make the data folder, store, vault, service root and admin token
  ca serve -config FILE      run the CA until SIGINT or SIGTERM

Administering a running CA (global flags: -config FILE, or -admin URL -token-file FILE):
  ca org create ID [-name N] [-private-only] [-fail-mode tunnel|block]
  ca org list
  ca org show ID
  ca org set ID -private-only=true|false
  ca org issue ID [-alg ecdsa-p256|rsa-2048] [-out cert.pem]
  ca org csr ID -out csr.pem [-alg ecdsa-p256|rsa-2048]
  ca org upload ID -cert cert.pem -chain chain.pem
  ca org rotate ID [-out csr.pem]
  ca revoke ID -serial HEX [-reason N]
  ca revoke ID -intermediate [-reason N]
  ca edge enrol [-org ID] -out DIR
  ca edge list
  ca audit [-after N] [-limit M]
  ca backup -out FILE
  ca root [-out FILE]
`

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed: the message says why
	exitUsage = 2 // the command line is wrong
)

// usageError is a command line mistake: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{}
	gfs := flag.NewFlagSet("ca", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ca: %v\n%s", err, usage)
		return exitUsage
	}
	args = gfs.Args()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{g: g, stdout: stdout, stderr: stderr}
	err := c.dispatch(ctx, args[0], args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ca: %v\n%s", err, usage)
		return exitUsage
	}
	fmt.Fprintln(stderr, "ca:", err)
	return exitError
}

type cli struct {
	g      *globals
	stdout io.Writer
	stderr io.Writer
}

func (c *cli) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "serve":
		return c.serve(ctx, args)
	case "init":
		return c.init(ctx, args)
	case "org":
		if len(args) == 0 {
			return usagef("org needs a subcommand: create, list, show, set, issue, csr, upload or rotate")
		}
		return c.org(ctx, args[0], args[1:])
	case "revoke":
		return c.revoke(ctx, args)
	case "edge":
		if len(args) == 0 {
			return usagef("edge needs a subcommand: enrol or list")
		}
		return c.edge(ctx, args[0], args[1:])
	case "audit":
		return c.audit(ctx, args)
	case "backup":
		return c.backup(ctx, args)
	case "root":
		return c.root(ctx, args)
	}
	return usagef("unknown command %q", cmd)
}

// globals are the flags every command takes, before or after the command.
type globals struct {
	config    string
	admin     string
	tokenFile string
}

// register adds the global flags to fs, defaulting to what an earlier
// parse found, so `ca -config F org list` and `ca org list -config F` agree.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.config, "config", g.config, "the CA's configuration `file`")
	fs.StringVar(&g.admin, "admin", g.admin, "the admin API's `URL` (instead of -config)")
	fs.StringVar(&g.tokenFile, "token-file", g.tokenFile, "the admin token `file` (with -admin)")
}

// newFlags makes a command's flag set with the global flags in it.
func (c *cli) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	c.g.register(fs)
	return fs
}

// parse parses flags and positional arguments in any order, and checks the
// number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != len(positional) {
		if len(positional) == 0 {
			return nil, usagef("%s takes no arguments, got %q", fs.Name(), strings.Join(pos, " "))
		}
		return nil, usagef("%s takes %s", fs.Name(), strings.Join(positional, " "))
	}
	return pos, nil
}

func (c *cli) loadConfig() (server.Config, error) {
	if c.g.config == "" {
		return server.Config{}, usagef("give the configuration file with -config FILE")
	}
	return server.LoadConfig(c.g.config)
}

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.newFlags("serve")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	// Before the vault is opened: no core, no /proc/PID/mem, no ptrace
	// by another process of this user (internal/nodump).
	if err := nodump.Apply(cfg.AllowCoreDumps); err != nil {
		return err
	}
	if cfg.AllowCoreDumps {
		fmt.Fprintln(c.stderr, "ca: warning: allow_core_dumps: this process may be dumped and traced; its memory holds the vault's key")
	}
	log := slog.New(slog.NewTextHandler(c.stderr, nil))
	return server.Run(ctx, cfg, server.Options{Logger: log, Stderr: c.stderr}, 30*time.Second)
}

func (c *cli) init(ctx context.Context, args []string) error {
	fs := c.newFlags("init")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	res, err := server.Init(ctx, cfg, server.Options{Stderr: c.stderr})
	if err != nil {
		return err
	}
	token := "created"
	if !res.TokenCreated {
		token = "kept the existing file"
	}
	fmt.Fprintf(c.stdout, `initialised the CA
  data folder:   %s
  store:         %s
  admin token:   %s (%s)
  service root:  %s (SHA-256 %s)
start it with:   ca serve -config %s
`, res.DataDir, res.Store, res.AdminTokenFile, token, res.RootFile, res.RootSHA256, c.g.config)
	return nil
}

// client returns the admin API client the global flags describe.
// call makes the admin API client for one command and a context that
// bounds its request by callTimeout.
func (c *cli) call(ctx context.Context) (*api.Client, context.Context, context.CancelFunc, error) {
	cl, err := c.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	return cl, ctx, cancel, nil
}

func (c *cli) client() (*api.Client, error) {
	if c.g.admin != "" {
		if c.g.tokenFile == "" {
			return nil, usagef("-admin needs -token-file FILE")
		}
		tok, err := server.ReadTokenFile(c.g.tokenFile)
		if err != nil {
			return nil, err
		}
		return &api.Client{URL: c.g.admin, Token: tok}, nil
	}
	if c.g.config == "" {
		return nil, usagef("give -config FILE, or -admin URL and -token-file FILE")
	}
	cfg, err := server.LoadConfig(c.g.config)
	if err != nil {
		return nil, err
	}
	tokenFile := cfg.AdminTokenFile
	if c.g.tokenFile != "" {
		tokenFile = c.g.tokenFile
	}
	tok, err := server.ReadTokenFile(tokenFile)
	if err != nil {
		return nil, err
	}
	hc, err := adminHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	return &api.Client{URL: cfg.AdminURL(), Token: tok, HTTP: hc}, nil
}
