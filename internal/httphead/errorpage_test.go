package httphead

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

func TestErrorResponse(t *testing.T) {
	b := ErrorResponse(407, "proxy authentication required", "Proxy-Authenticate: Basic realm=\"lucid\"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 407 || resp.Status != "407 Proxy Authentication Required" {
		t.Errorf("status %q", resp.Status)
	}
	if string(body) != "proxy authentication required\n" || !resp.Close {
		t.Errorf("body %q, close %v", body, resp.Close)
	}
	if resp.Header.Get("Proxy-Authenticate") != `Basic realm="lucid"` || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestErrorStatus(t *testing.T) {
	if s, r := ErrorStatus(&Error{Status: 431, Reason: "head too large"}); s != 431 || r != "head too large" {
		t.Errorf("got %d %q", s, r)
	}
	if s, r := ErrorStatus(errors.New("bad")); s != 400 || r != "bad" {
		t.Errorf("got %d %q", s, r)
	}
}
