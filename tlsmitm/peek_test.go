package tlsmitm

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/lucid-edge/lucid/internal/clienthellos"
)

// TestPeekedHelloIsTheHandshakesParse: with LegacyHandoff the first hello
// is parsed once, by the TLS 1.2 check, and the handshake takes that parse
// over onto its own copy of the message. The parked hello must equal a
// fresh parse and point into none of the caller's input, which the caller
// wipes once Process returns.
func TestPeekedHelloIsTheHandshakesParse(t *testing.T) {
	for _, h := range clienthellos.All() {
		t.Run(h.Name, func(t *testing.T) {
			cfg := &Config{
				GetCertificate: func(*ClientHello) (*Certificate, error) { return nil, nil },
				LegacyHandoff:  true, ParkResumed: true,
			}
			c := NewServer(cfg)
			defer c.Release()
			in := bytes.Clone(h.Record)
			res, err := c.Process(in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Event != EventPending {
				t.Fatalf("event %v, want the hello parked", res.Event)
			}
			if c.peeked != nil {
				t.Error("the peeked input is still held after the handshake took it")
			}
			want, err := ParseClientHello(bytes.Clone(h.Message()))
			if err != nil {
				t.Fatal(err)
			}
			clear(in) // the caller's buffer goes back to gnet
			got := c.Hello()
			if !reflect.DeepEqual(helloFields(got), helloFields(want)) {
				t.Errorf("the parked hello differs from a fresh parse:\n got %+v\nwant %+v", helloFields(got), helloFields(want))
			}
		})
	}
}

// helloFields is a ClientHello without its backing arrays, for comparing.
func helloFields(ch *ClientHello) ClientHello {
	return ClientHello{
		Raw: ch.Raw, LegacyVersion: ch.LegacyVersion, Random: ch.Random, SessionID: ch.SessionID,
		CipherSuites: ch.CipherSuites, CompressionMethods: ch.CompressionMethods, Extensions: ch.Extensions,
		ServerName: ch.ServerName, ALPNProtocols: ch.ALPNProtocols, SupportedVersions: ch.SupportedVersions,
		Groups: ch.Groups, KeyShares: ch.KeyShares, KeyShareSent: ch.KeyShareSent,
		SignatureSchemes: ch.SignatureSchemes, PSKModes: ch.PSKModes, EarlyData: ch.EarlyData,
		RecordSizeLimit: ch.RecordSizeLimit, PSKIdentities: ch.PSKIdentities, PSKBinders: ch.PSKBinders,
		CertCompression: ch.CertCompression,
	}
}
