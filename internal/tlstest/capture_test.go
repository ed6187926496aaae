package tlstest

import (
	"crypto/tls"
	"testing"
)

func TestCaptureClientHello(t *testing.T) {
	rec := CaptureClientHello(t, &tls.Config{ServerName: "capture.test", MaxVersion: tls.VersionTLS12})
	h := ParseClientHelloRecord(t, rec)
	if i := h.Find(0x0000); i < 0 || string(h.Extensions[i].Data[5:]) != "capture.test" {
		t.Errorf("no server_name capture.test in the captured hello")
	}
	if h.Find(0x0033) >= 0 {
		t.Error("a TLS 1.2-only client sent key shares: the config did not reach the client")
	}
}
