package terminate_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/engine/terminate"
	"github.com/lucid-edge/lucid/internal/clienthellos"
	"github.com/lucid-edge/lucid/internal/tlstest"
)

// Alert codes (RFC 8446 §6).
const (
	alUnexpectedMessage = 10
	alBadRecordMAC      = 20
	alRecordOverflow    = 22
	alIllegalParameter  = 47
	alDecodeError       = 50
	alDecryptError      = 51
	alProtocolVersion   = 70
	alMissingExtension  = 109
)

// TestNegativeTLS11OnlyClientHello: TLS 1.2 clients are handed off to
// crypto/tls (legacy_test.go); a client offering only TLS 1.1 or 1.0 still
// gets protocol_version.
func TestNegativeTLS11OnlyClientHello(t *testing.T) {
	s := iopStartDefault(t)
	for _, v := range []uint16{tls.VersionTLS11, tls.VersionTLS10} {
		hello := tlstest.CaptureClientHello(t, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: v})
		iopExpectPlainAlert(t, s, hello, false, alProtocolVersion,
			"RFC 8446 App. D: a server that supports neither offered version must abort with protocol_version")
	}
	iopCheckGood(t, s)
}

func TestNegativeRecordOverflow(t *testing.T) {
	s := iopStartDefault(t)
	// Plaintext record of 2^14+1 bytes (RFC 8446 §5.1: MUST NOT exceed 2^14 -> record_overflow).
	n := 1<<14 + 1
	payload := []byte{0x16, 0x03, 0x03, byte(n >> 8), byte(n)}
	payload = append(payload, make([]byte, n)...)
	iopExpectPlainAlert(t, s, payload, false, alRecordOverflow, "RFC 8446 §5.1")
	iopCheckGood(t, s)
}

func TestNegativeUnknownContentType(t *testing.T) {
	s := iopStartDefault(t)
	iopExpectPlainAlert(t, s, []byte{0x19, 0x03, 0x03, 0x00, 0x01, 0x00}, false, alUnexpectedMessage,
		"RFC 8446 §5: unexpected record type -> unexpected_message")
	iopCheckGood(t, s)
}

func TestNegativeDuplicateExtension(t *testing.T) {
	s := iopStartDefault(t)
	ch := tlstest.ParseClientHelloRecord(t, clienthellos.Record("1-go126.bin"))
	i := ch.Find(0x0000)
	if i < 0 {
		t.Fatal("no server_name extension in 1-go126.bin")
	}
	dup := ch.Clone()
	sni := dup.Extensions[i]
	dup.Extensions = append(dup.Extensions[:i+1], append([]tlstest.Extension{{Type: sni.Type, Data: sni.Data}}, dup.Extensions[i+1:]...)...)
	rec := dup.Record()
	if len(rec) != len(clienthellos.Record("1-go126.bin"))+4+len(sni.Data) {
		t.Fatalf("rebuilt record has unexpected size %d", len(rec))
	}
	iopExpectPlainAlert(t, s, rec, false, alIllegalParameter,
		"RFC 8446 §4.2: MUST NOT be more than one extension of the same type")
	iopCheckGood(t, s)
}

func TestNegativeMissingKeyShare(t *testing.T) {
	s := iopStartDefault(t)
	ch := tlstest.ParseClientHelloRecord(t, clienthellos.Record("1-go126.bin"))
	if ch.Find(0x0033) < 0 || ch.Find(0x000a) < 0 || ch.Find(0x002b) < 0 {
		t.Fatal("1-go126.bin lacks key_share/supported_groups/supported_versions")
	}
	ch.Without(t, 0x0033)
	iopExpectPlainAlert(t, s, ch.Record(), false, alMissingExtension,
		"RFC 8446 §9.2: supported_groups without key_share -> missing_extension")
	iopCheckGood(t, s)
}

func TestNegativeTruncatedClientHello(t *testing.T) {
	s := iopStartDefault(t)
	ch := tlstest.ParseClientHelloRecord(t, clienthellos.Record("1-go126.bin"))
	body := ch.Body()

	// Extensions block length claims one byte more than the message holds;
	// handshake and record lengths are self-consistent.
	t.Run("ExtensionsLengthTooLong", func(t *testing.T) {
		b := bytes.Clone(body)
		p := ch.ExtensionsOffset()
		el := int(b[p])<<8 | int(b[p+1]) + 1
		b[p], b[p+1] = byte(el>>8), byte(el)
		iopExpectPlainAlert(t, s, tlstest.HandshakeRecord(ch.RecordVersion, 1, b), false, alDecodeError,
			"RFC 8446 §6.2 decode_error: length of a field incorrect")
		iopCheckGood(t, s)
	})

	// Handshake header says the ClientHello is 10 bytes shorter than what the
	// record carries: the declared message is internally truncated.
	t.Run("HandshakeLengthShort", func(t *testing.T) {
		short := len(body) - 10
		rec := tlstest.HandshakeRecord(ch.RecordVersion, 1, body[:short])
		iopExpectPlainAlert(t, s, rec, false, alDecodeError,
			"RFC 8446 §6.2 decode_error: ClientHello body ends inside the extensions block")
		iopCheckGood(t, s)
	})

	// Complete, valid ClientHello followed in the same record by the start of
	// another handshake message: RFC 8446 §5.1 (messages preceding a key change
	// must align with a record boundary) -> unexpected_message.
	t.Run("TrailingDataAfterClientHello", func(t *testing.T) {
		full := ch.Record()
		msg := append(bytes.Clone(full[5:]), 0x01, 0x00)
		rec := []byte{0x16, 0x03, 0x01, byte(len(msg) >> 8), byte(len(msg))}
		rec = append(rec, msg...)
		iopExpectPlainAlert(t, s, rec, false, alUnexpectedMessage, "RFC 8446 §5.1 key-change alignment")
		iopCheckGood(t, s)
	})

	// Handshake header claims more than the (complete) record holds, then the
	// client half-closes. A handshake message may legally span records, so the
	// server cannot decide before EOF; at EOF either a decode_error alert or a
	// silent clean close is acceptable. Never a RST, never a hang.
	t.Run("HeaderClaimsMoreThenHalfClose", func(t *testing.T) {
		rec := tlstest.HandshakeRecordDeclaring(ch.RecordVersion, 1, body[:200], len(body))
		c := iopDialTCP(t, s)
		c.Write(rec)
		c.(interface{ CloseWrite() error }).CloseWrite()
		got, err := tlstest.ReadToEnd(c, 5*time.Second)
		t.Logf("reply % x, end %s", got, tlstest.DescribeEnd(err))
		if len(got) != 0 && !bytes.Equal(got, tlstest.AlertRecord(alDecodeError)) {
			t.Errorf("reply = % x, want nothing or decode_error alert % x", got, tlstest.AlertRecord(alDecodeError))
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("connection ended with %s, want clean EOF", tlstest.DescribeEnd(err))
		}
		iopCheckGood(t, s)
	})
}

// A client that stops in the middle of a record is closed by the handshake
// timeout; meanwhile other clients are served.
func TestNegativeStallMidRecord(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: time.Second})
	hello := clienthellos.Record("1-go126.bin")
	c := iopDialTCP(t, s)
	start := time.Now()
	if _, err := c.Write(hello[:len(hello)/2]); err != nil {
		t.Fatal(err)
	}
	iopCheckGood(t, s) // served while the other connection stalls
	got, err := tlstest.ReadToEnd(c, 6*time.Second)
	el := time.Since(start)
	t.Logf("stalled client: got % x after %v, end %s", got, el, tlstest.DescribeEnd(err))
	if errors.Is(err, io.EOF) && el < 900*time.Millisecond {
		t.Errorf("closed after %v, before the 1s handshake timeout", el)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("stalled connection ended with %s, want clean close by the 1s handshake timeout", tlstest.DescribeEnd(err))
	}
	if len(got) != 0 {
		recs, rest := tlstest.ParseRecords(got)
		if len(rest) != 0 || len(recs) != 1 || recs[0].Type != tlstest.RecordAlert {
			t.Errorf("stalled client got non-alert bytes % x", got)
		}
	}
	iopCheckGood(t, s)
}

// Plain HTTP sent to the TLS port.
func TestNegativeGarbage(t *testing.T) {
	s := iopStartDefault(t)
	c := iopDialTCP(t, s)
	c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	got, err := tlstest.ReadToEnd(c, 5*time.Second)
	t.Logf("reply % x, end %s", got, tlstest.DescribeEnd(err))
	if len(got) != 7 || !bytes.Equal(got[:6], []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02}) {
		t.Errorf("reply = % x, want one fatal plaintext alert (0x47 'G' is not a content type: unexpected_message expected)", got)
	} else if got[6] != alUnexpectedMessage {
		t.Logf("alert code %d (unexpected_message=10 would be the most precise)", got[6])
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("connection ended with %s, want clean EOF after the alert", tlstest.DescribeEnd(err))
	}
	iopCheckGood(t, s)
}

// Sanity check of the puppet harness: forwarding the real client flight
// (one CCS + Finished) completes the handshake and a request is served over
// records the test encrypts itself.
func TestNegativePuppetControl(t *testing.T) {
	s := iopStartNoTickets(t)
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	for _, r := range p.Client {
		p.Send(r.Bytes())
	}
	k := p.ClientKey("CLIENT_TRAFFIC_SECRET_0")
	p.Send(k.Seal(0x17, []byte(iopReqClose)))
	recs, end := p.Collect(5 * time.Second)
	inner, err := p.DecryptAfter(recs)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	var app []byte
	var sawCloseNotify bool
	for _, in := range inner {
		switch in.Type {
		case 0x17:
			app = append(app, in.Content...)
		case 0x15:
			sawCloseNotify = bytes.Equal(in.Content, []byte{1, 0}) || (len(in.Content) == 2 && in.Content[1] == 0)
		}
	}
	if !bytes.Contains(app, []byte("200 OK")) || !bytes.HasSuffix(app, []byte(iopBody)) {
		t.Errorf("response = %q", app)
	}
	if !sawCloseNotify {
		t.Errorf("no close_notify after Connection: close")
	}
	if !errors.Is(end, io.EOF) {
		t.Errorf("connection ended with %s", tlstest.DescribeEnd(end))
	}
	iopCheckGood(t, s)
}

// Two ChangeCipherSpec records before the client Finished.
func TestNegativeDoubleCCS(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 3 * time.Second, NoTickets: true})
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	ccs := []byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01}
	p.Send(append(bytes.Clone(ccs), ccs...))
	p.ExpectEncryptedAlert(alUnexpectedMessage,
		"only one compatibility CCS is expected (RFC 8446 App. D.4); the second is an unexpected message")
	iopCheckGood(t, s)
}

// A CCS record whose content is not 0x01.
func TestNegativeBadCCSValue(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 3 * time.Second, NoTickets: true})
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	p.Send([]byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x02})
	p.ExpectEncryptedAlert(alUnexpectedMessage,
		"RFC 8446 §5: any other change_cipher_spec value MUST abort with unexpected_message")
	iopCheckGood(t, s)
}

// A client Finished with wrong verify_data.
func TestNegativeWrongFinished(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 3 * time.Second, NoTickets: true})
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	h, _ := tlstest.SuiteHash(p.Suite)
	vd := make([]byte, h().Size())
	rand.Read(vd)
	k := p.ClientKey("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
	msg := append([]byte{20, 0, 0, byte(len(vd))}, vd...)
	p.Send(k.Seal(0x16, msg))
	p.ExpectEncryptedAlert(alDecryptError, "RFC 8446 §4.4.4: incorrect Finished -> decrypt_error")
	iopCheckGood(t, s)
}

// A client Finished whose length does not match the hash size.
func TestNegativeShortFinished(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 3 * time.Second, NoTickets: true})
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	k := p.ClientKey("CLIENT_HANDSHAKE_TRAFFIC_SECRET")
	msg := append([]byte{20, 0, 0, 12}, make([]byte, 12)...)
	p.Send(k.Seal(0x16, msg))
	p.ExpectEncryptedAlert(alDecodeError, "RFC 8446 §6.2: Finished of the wrong length -> decode_error")
	iopCheckGood(t, s)
}

// A protected record that does not authenticate.
func TestNegativeBadRecordMAC(t *testing.T) {
	s := iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, HandshakeTimeout: 3 * time.Second, NoTickets: true})
	p := tlstest.NewPuppet(t, iopDialTCP(t, s), s.goConfig())
	junk := make([]byte, 53)
	rand.Read(junk)
	rec := append([]byte{0x17, 0x03, 0x03, 0x00, byte(len(junk))}, junk...)
	p.Send(rec)
	p.ExpectEncryptedAlert(alBadRecordMAC, "RFC 8446 §5.2: decryption failure -> bad_record_mac")
	iopCheckGood(t, s)
}

// iopStartNoTickets starts a server that issues no session tickets: the
// puppet tests check that nothing goes out under the application keys
// before the client's Finished, and a ticket (sent with our Finished, as
// crypto/tls does when it can precompute the client's) would.
func iopStartNoTickets(t *testing.T) *iopServer {
	return iopStart(t, terminate.Config{Addr: "127.0.0.1:0", Loops: 2, NoTickets: true})
}
