package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawOrigin is an HTTP/1.1 origin that keeps every byte it receives, so a
// test can assert that nothing of a refused request reached it, however
// it was framed. It answers each request it can read with "ok", or, with
// twice set, with two responses (a response desync).
type rawOrigin struct {
	mu      sync.Mutex
	got     bytes.Buffer
	accepts int
	paths   []string
	twice   bool
	silent  bool // reads every request, answers none
}

func (o *rawOrigin) received() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got.String()
}

func (o *rawOrigin) served() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.paths...)
}

func (o *rawOrigin) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got.Write(p)
}

// startRawOrigin serves name over TLS (a certificate from the world's
// public-like root) or, with plain, in the clear; register it before the
// proxy starts.
func (w *world) startRawOrigin(t *testing.T, name string, plain bool) *rawOrigin {
	t.Helper()
	o := &rawOrigin{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !plain {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
			DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, w.originCA, key.Public(), w.originKey)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, NextProtos: []string{"http/1.1"}})
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			o.accepts++
			o.mu.Unlock()
			go o.serve(c)
		}
	}()
	w.origins[name] = ln.Addr().String()
	return o
}

func (o *rawOrigin) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(pmIOTimeout))
	br := bufio.NewReader(io.TeeReader(c, o))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		o.mu.Lock()
		o.paths = append(o.paths, req.Method+" "+req.URL.Path)
		silent := o.silent
		o.mu.Unlock()
		if silent {
			continue
		}
		resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		if o.twice {
			resp += "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
		}
		if _, err := io.WriteString(c, resp); err != nil || req.Close {
			return
		}
	}
}

// blockAdmin is the URL rule of the findings: /admin of one host
// blocked, matched as a prefix without regard to case (the default of
// paths_case_sensitive) on the normalised path.
func blockAdmin(host string) func(org, h, path string) (string, bool) {
	return func(_, h, path string) (string, bool) {
		return "admin-rule", h == host && len(path) >= 6 && strings.EqualFold(path[:6], "/admin")
	}
}

// inspectedConn opens an inspected TLS connection to host through the
// proxy.
func (w *world) inspectedConn(t *testing.T, host string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	raw := pmConnectOK(t, w.proxy.Addr(), host+":443")
	t.Cleanup(func() { raw.Close() })
	tc := tls.Client(raw, &tls.Config{ServerName: host, RootCAs: w.rootPool(), NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(pmIOTimeout))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

// readStatuses reads responses until the connection ends (or n are read)
// and returns their statuses and bodies.
func readStatuses(br *bufio.Reader, n int) (statuses []int, bodies []string) {
	for len(statuses) < n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		bodies = append(bodies, string(b))
	}
	return
}
