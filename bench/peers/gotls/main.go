// Command gotls is the Go crypto/tls peer of `edge terminate` in the
// side-by-side benchmarks (bench/suite): an HTTPS server on net/http that
// answers every request with the same small body, keeping connections
// alive unless the client asks to close. Session tickets are left on (the
// crypto/tls default), so resumed handshakes work as they do for Lucid.
//
//	gotls -listen 127.0.0.1:9443 -cert cert.pem -key key.pem
//
// With -h2 it offers HTTP/2 by ALPN as well (h2, then http/1.1): the
// origin of the HTTP/2 and pipelined benchmarks, which must speak both.
//
// It prints "gotls: serving on ADDR" once it accepts connections, and
// stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// body is what `edge terminate` answers, so both servers send the same bytes.
const body = "hello from lucid\n"

func main() {
	listen := flag.String("listen", "127.0.0.1:9443", "TCP address to serve HTTPS on")
	certFile := flag.String("cert", "", "PEM certificate chain (required)")
	keyFile := flag.String("key", "", "PEM private key for -cert (required)")
	h2 := flag.Bool("h2", false, "offer HTTP/2 by ALPN too (default: HTTP/1.1 only, like edge terminate)")
	flag.Parse()
	if err := run(*listen, *certFile, *keyFile, *h2); err != nil {
		fmt.Fprintln(os.Stderr, "gotls:", err)
		os.Exit(1)
	}
}

func run(listen, certFile, keyFile string, h2 bool) error {
	if certFile == "" || keyFile == "" {
		return errors.New("-cert and -key are required")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("loading -cert/-key: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(hello),
		// HTTP/1.1 only, like the responder of `edge terminate`: a non-nil,
		// empty TLSNextProto keeps net/http from offering h2.
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(discard{}, "", 0), // a benchmark's aborted handshakes are not news
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS12,
		},
	}
	if h2 {
		// Serve on a listener of our own sees no ALPN unless the config
		// offers it, and net/http serves h2 when TLSNextProto is left nil.
		srv.TLSNextProto = nil
		srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		// Streams beyond net/http's default of 250 per connection are not
		// what the benchmark measures; enough for any -streams it runs.
		srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
		srv.Handler = http.HandlerFunc(helloWithProto)
	}
	fmt.Printf("gotls: serving on %s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func hello(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write([]byte(body))
}

// helloWithProto is hello that also says which protocol the request came
// in on, so that a test can tell whether a proxy spoke HTTP/2 to it.
func helloWithProto(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Origin-Proto", r.Proto)
	hello(w, r)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
