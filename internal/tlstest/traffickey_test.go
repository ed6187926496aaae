package tlstest

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// The client's Finished of RFC 8448, sealed under the client handshake
// traffic key at sequence number 0, is the record the RFC shows.
func TestTrafficKeyRFC8448(t *testing.T) {
	fin, rec := unhex(t, rfc8448ClientFinished), unhex(t, rfc8448ClientFinRecord)
	seal, err := NewTrafficKey(tls.TLS_AES_128_GCM_SHA256, unhex(t, rfc8448ClientHSSecret))
	if err != nil {
		t.Fatal(err)
	}
	if got := seal.Seal(RecordHandshake, fin); !bytes.Equal(got, rec) {
		t.Errorf("Seal = %x, want %x", got, rec)
	}

	open, _ := NewTrafficKey(tls.TLS_AES_128_GCM_SHA256, unhex(t, rfc8448ClientHSSecret))
	recs, _ := ParseRecords(rec)
	typ, content, err := open.Open(recs[0])
	if err != nil || typ != RecordHandshake || !bytes.Equal(content, fin) {
		t.Fatalf("Open = %d % x, %v; want the client Finished", typ, content, err)
	}
	if _, _, err := open.Open(recs[0]); err == nil {
		t.Error("the same record opened again at sequence number 1")
	}
}

func TestNewTrafficKeyRefuses(t *testing.T) {
	if _, err := NewTrafficKey(0x1304, make([]byte, 32)); err == nil {
		t.Error("TLS_AES_128_CCM_SHA256 accepted")
	}
	if _, err := NewTrafficKey(tls.TLS_AES_128_GCM_SHA256, nil); err == nil {
		t.Error("a missing secret accepted")
	}
}
