package tlstest

import (
	"crypto/tls"
	"testing"
)

func TestParseServerHellosRFC8448(t *testing.T) {
	got, err := ParseServerHellos(unhex(t, rfc8448ServerHello))
	want := ServerHellos{Suite: tls.TLS_AES_128_GCM_SHA256, Group: uint16(tls.X25519), Version: tls.VersionTLS13}
	if err != nil || got != want {
		t.Errorf("ParseServerHellos = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseServerHellosAfterHelloRetryRequest(t *testing.T) {
	hrr := []byte{3, 3}
	hrr = append(hrr, helloRetryRandom...)
	hrr = append(hrr, 0, 0x13, 0x01, 0) // no session ID, the suite, no compression
	hrr = append(hrr, 0, 12, 0, 0x33, 0, 2, 0, 0x17, 0, 0x2b, 0, 2, 3, 4)
	stream := append(HandshakeRecord(0x0303, 2, hrr), Record{Type: RecordChangeCipherSpec, Version: 0x0303, Body: []byte{1}}.Bytes()...)
	stream = append(stream, unhex(t, rfc8448ServerHello)...)
	got, err := ParseServerHellos(stream)
	want := ServerHellos{HRR: true, HRRGroup: uint16(tls.CurveP256), Suite: tls.TLS_AES_128_GCM_SHA256, Group: uint16(tls.X25519), Version: tls.VersionTLS13}
	if err != nil || got != want {
		t.Errorf("ParseServerHellos = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseServerHellosAlert(t *testing.T) {
	if _, err := ParseServerHellos(AlertRecord(40)); err == nil {
		t.Error("an alert taken for a ServerHello")
	}
}
