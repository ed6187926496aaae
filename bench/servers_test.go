package bench

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The servers of these tests are real: crypto/tls and net/http on
// loopback, a CONNECT proxy that tunnels bytes, each stopped at cleanup.

// testCA is a throwaway CA whose PEM is written to a file for Options.CAFile.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemFile string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgebench test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pemFile: f}
}

// leaf issues a server certificate for 127.0.0.1, localhost and *.bench.test.
func (ca *testCA) leaf(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost", "*.bench.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// tlsOrigin is an HTTPS server that records what its handshakes agreed on.
type tlsOrigin struct {
	addr     string
	mu       sync.Mutex
	states   []tls.ConnectionState
	requests atomic.Int64
}

func (o *tlsOrigin) handshakes() []tls.ConnectionState {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]tls.ConnectionState(nil), o.states...)
}

func startTLSOrigin(t *testing.T, ca *testCA) *tlsOrigin {
	t.Helper()
	o := &tlsOrigin{}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{ca.leaf(t)},
		VerifyConnection: func(cs tls.ConnectionState) error {
			o.mu.Lock()
			o.states = append(o.states, cs)
			o.mu.Unlock()
			return nil
		},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o.requests.Add(1)
			io.WriteString(w, "hello from the origin\n")
		}),
		ErrorLog: log.New(io.Discard, "", 0), // the wrong-CA test makes handshakes fail on purpose
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.addr = ln.Addr().String()
	return o
}

// startCuttingServer answers every request with a head that promises 100
// bytes, sends 5 and closes: a server dying mid-response.
func startCuttingServer(t *testing.T, ca *testCA) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.leaf(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
			}()
		}
	}()
	return ln.Addr().String()
}

// connectProxy tunnels CONNECT requests for any host to one origin
// address and counts what it sees.
type connectProxy struct {
	addr    string
	targets sync.Map // CONNECT target → *atomic.Int64
	tunnels atomic.Int64
	open    atomic.Int64
	maxOpen atomic.Int64
}

func (p *connectProxy) distinctTargets() []string {
	var names []string
	p.targets.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	return names
}

func startConnectProxy(t *testing.T, origin string) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				track(c, true)
				defer track(c, false)
				defer c.Close()
				p.tunnel(c, origin, track)
			}()
		}
	}()
	p.addr = ln.Addr().String()
	return p
}

func (p *connectProxy) tunnel(c net.Conn, origin string, track func(net.Conn, bool)) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "CONNECT" {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if h == "\r\n" {
			break
		}
	}
	n, _ := p.targets.LoadOrStore(f[1], new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	up, err := net.Dial("tcp", origin)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	track(up, true)
	defer track(up, false)
	defer up.Close()
	p.tunnels.Add(1)
	open := p.open.Add(1)
	defer p.open.Add(-1)
	for {
		m := p.maxOpen.Load()
		if open <= m || p.maxOpen.CompareAndSwap(m, open) {
			break
		}
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(up, br)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	c.(*net.TCPConn).CloseWrite()
	<-done
}
