package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The tests run against a real PostgreSQL server that TestMain starts in a
// temporary folder, on a free loopback port, and stops at the end. Each
// test gets a database of its own.

var (
	server *pgServer
	// skipReason is set when PostgreSQL is not installed and CI is not
	// "true": CI must run these tests, a developer may lack the server.
	skipReason string
)

var errNoPostgres = errors.New("PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin or on PATH")

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	start := time.Now()
	s, err := startServer()
	switch {
	case errors.Is(err, errNoPostgres) && os.Getenv("CI") != "true":
		skipReason = err.Error() + ": sudo ./scripts/test-deps.sh installs PostgreSQL (without starting its cluster) to run them"
	case err != nil:
		fmt.Fprintf(os.Stderr, "FAIL: postgres tests: %v\n", err)
		return 1
	default:
		server = s
		defer s.stop()
		if testing.Verbose() {
			fmt.Printf("postgres: server %s on port %d ready in %v\n", s.bin, s.port, time.Since(start).Round(time.Millisecond))
		}
	}
	return m.Run()
}

type pgServer struct {
	bin    string // the folder of initdb and postgres
	dir    string // data folder, socket and log
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
	admin  *sql.DB
}

// requireServer skips t if there is no server to run it on.
func requireServer(t *testing.T) {
	t.Helper()
	if server == nil {
		t.Skip(skipReason)
	}
}

// newDatabase creates an empty database for t and returns its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	requireServer(t)
	name := "t_" + randomHex(t)
	if _, err := server.admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = server.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return server.dsn(name)
}

func (s *pgServer) dsn(database string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=lucid dbname=%s sslmode=disable", s.port, database)
}

func startServer() (*pgServer, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lucid-pg-")
	if err != nil {
		return nil, err
	}
	s := &pgServer{bin: bin, dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			s.removeDir()
			return nil, err
		}
	}
	initdb := s.command(cred, "initdb", "-D", s.data(), "-A", "trust", "-U", "lucid",
		"--no-sync", "-E", "UTF8", "--locale=C", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		s.removeDir()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// The port is free when picked but could be taken before postgres
	// binds it; try a few.
	for attempt := 1; ; attempt++ {
		err = s.start(cred)
		if err == nil {
			return s, nil
		}
		if attempt == 3 {
			s.removeDir()
			return nil, err
		}
	}
}

// findBin finds the newest installed server's binaries.
func findBin() (string, error) {
	initdbs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(initdbs, func(a, b string) int { return majorVersion(b) - majorVersion(a) })
	if len(initdbs) == 0 {
		p, err := exec.LookPath("initdb")
		if err != nil {
			return "", errNoPostgres
		}
		initdbs = []string{p}
	}
	bin := filepath.Dir(initdbs[0])
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
		return "", errNoPostgres
	}
	return bin, nil
}

func majorVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// serverCredential is whom to run the server as: PostgreSQL refuses to run
// as root, so as root (CI) it runs as the "postgres" user that Debian's
// package creates; otherwise as ourselves.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	// If this process dies, the server goes too (SIGQUIT: immediate shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

func (s *pgServer) start(cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := s.command(cred, "postgres", "-D", s.data(), "-k", s.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.port, s.cmd, s.exited = port, cmd, exited

	admin, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		s.halt()
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			s.admin = admin
			return nil
		}
		select {
		case <-exited:
			_ = admin.Close()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited before accepting connections:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = admin.Close()
			s.halt()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres did not accept connections within a minute: %v\n%s", err, log)
		}
	}
}

// stop shuts the server down and removes its folder.
func (s *pgServer) stop() {
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.halt()
	s.removeDir()
}

// halt shuts the server down (SIGINT: fast shutdown) and waits for it.
func (s *pgServer) halt() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
}

func (s *pgServer) removeDir() { _ = os.RemoveAll(s.dir) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
