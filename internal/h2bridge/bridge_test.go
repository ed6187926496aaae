package h2bridge

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func get(t *testing.T, cc interface {
	RoundTrip(*http.Request) (*http.Response, error)
}, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, b
}

func TestForwardsConcurrentStreams(t *testing.T) {
	p, cc, o := setup(t, Config{}, echo)
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/item/%d", i)
			body := strings.Repeat(path, 100)
			req, _ := http.NewRequest("POST", "https://echo.example"+path, strings.NewReader(body))
			resp, err := cc.RoundTrip(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("x-path") != path || string(got) != body {
				errs <- fmt.Sprintf("%s: status %d, x-path %q, %d bytes", path, resp.StatusCode, resp.Header.Get("x-path"), len(got))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := len(o.requests()); got != n {
		t.Errorf("origin saw %d requests, want %d", got, n)
	}
	logs := p.streamLogs()
	if len(logs) != n {
		t.Fatalf("%d log lines, want %d", len(logs), n)
	}
	for _, l := range logs {
		if l.Status != 200 || l.Reset != "" || l.BytesIn != l.BytesOut || l.BytesIn == 0 || l.Authority != "echo.example" {
			t.Errorf("log line %+v", l)
		}
	}
}

func TestLargeBodiesWithinMaxBuffered(t *testing.T) {
	const maxBuffered = 256 << 10
	p, cc, _ := setup(t, Config{MaxBuffered: maxBuffered}, echo)
	body := make([]byte, 8<<20)
	rand.Read(body)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, got := get(t, cc, "PUT", "https://echo.example/big", bytes.NewReader(body))
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("status %d, %d bytes back of %d", resp.StatusCode, len(got), len(body))
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	peak := p.peak
	p.mu.Unlock()
	if peak > maxBuffered || peak == 0 {
		t.Errorf("bridge held up to %d bytes, bound %d", peak, maxBuffered)
	}
}

func TestBlockedStreamNeverReachesOrigin(t *testing.T) {
	judge := func(r *Request) Verdict {
		if strings.HasPrefix(r.Path, "/admin") {
			return Verdict{Status: 403, Message: "blocked by policy\n", Rule: "no-admin"}
		}
		return Verdict{Allow: true, Rule: "default"}
	}
	p, cc, o := setup(t, Config{Judge: judge}, echo)
	resp, body := get(t, cc, "POST", "https://echo.example/admin/secret", strings.NewReader(strings.Repeat("x", 100000)))
	if resp.StatusCode != 403 || string(body) != "blocked by policy\n" {
		t.Errorf("blocked stream: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, cc, "GET", "https://echo.example/ok", nil)
	if resp.StatusCode != 200 || resp.Header.Get("x-path") != "/ok" {
		t.Errorf("allowed stream: %d %q", resp.StatusCode, body)
	}
	if got := o.requests(); len(got) != 1 || got[0] != "GET echo.example /ok" {
		t.Errorf("origin saw %q", got)
	}
	logs := p.streamLogs()
	if len(logs) != 2 || logs[0].Status != 403 || logs[0].Verdict.Rule != "no-admin" || logs[0].Path != "/admin/secret" || logs[1].Status != 200 {
		t.Errorf("logs %+v", logs)
	}
}

func TestTrailersBothWays(t *testing.T) {
	var gotTrailer string
	h := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		gotTrailer = r.Trailer.Get("x-request-sum")
		w.Header().Set("Trailer", "x-response-sum")
		w.Write([]byte("body"))
		w.Header().Set("x-response-sum", "abc")
	}
	_, cc, _ := setup(t, Config{}, h)
	req, _ := http.NewRequest("POST", "https://echo.example/t", io.NopCloser(strings.NewReader("payload")))
	req.Trailer = http.Header{"X-Request-Sum": {"123"}}
	req.ContentLength = -1
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || resp.Trailer.Get("x-response-sum") != "abc" {
		t.Errorf("response %q, trailer %q", b, resp.Trailer)
	}
	if gotTrailer != "123" {
		t.Errorf("origin saw request trailer %q", gotTrailer)
	}
}
