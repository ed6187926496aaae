package tlsmitm

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// rfc8448 holds the vectors of RFC 8448 §3 ("Simple 1-RTT Handshake"),
// transcribed in testdata/rfc8448/simple-1rtt.txt as "name: hex" lines.
type rfc8448 map[string][]byte

func loadRFC8448(t *testing.T) rfc8448 {
	t.Helper()
	f, err := os.Open("testdata/rfc8448/simple-1rtt.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := rfc8448{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		name, hexs, ok := strings.Cut(s, ":")
		if !ok {
			t.Fatalf("simple-1rtt.txt:%d: no colon", line)
		}
		b, err := hex.DecodeString(strings.TrimSpace(hexs))
		if err != nil {
			t.Fatalf("simple-1rtt.txt:%d: %v", line, err)
		}
		v[strings.TrimSpace(name)] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// get returns a vector; a missing one fails the test at once.
func (v rfc8448) get(t *testing.T, name string) []byte {
	t.Helper()
	b, ok := v[name]
	if !ok {
		t.Fatalf("RFC 8448 vector %q missing from testdata", name)
	}
	return b
}

func sha256Of(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func checkHex(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// rfc8448Key builds the server's RSA key of RFC 8448 §2.
func rfc8448Key(t *testing.T, v rfc8448) *rsa.PrivateKey {
	t.Helper()
	num := func(name string) *big.Int { return new(big.Int).SetBytes(v.get(t, name)) }
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: num("rsa_modulus"), E: int(num("rsa_public_exponent").Int64())},
		D:         num("rsa_private_exponent"),
		Primes:    []*big.Int{num("rsa_prime1"), num("rsa_prime2")},
	}
	key.Precompute()
	if err := key.Validate(); err != nil {
		t.Fatalf("RFC 8448 RSA key: %v", err)
	}
	for _, c := range []struct {
		name string
		got  *big.Int
	}{
		{"rsa_exponent1", key.Precomputed.Dp},
		{"rsa_exponent2", key.Precomputed.Dq},
		{"rsa_coefficient", key.Precomputed.Qinv},
	} {
		if c.got == nil || c.got.Cmp(num(c.name)) != 0 {
			t.Errorf("precomputed %s = %x, want %x", c.name, c.got, v.get(t, c.name))
		}
	}
	return key
}

// rfc8448CertDER takes the one certificate out of the RFC's Certificate
// message: type, u24 length, empty context, u24 list length, u24 cert length.
func rfc8448CertDER(t *testing.T, msg []byte) []byte {
	t.Helper()
	r := newReader(msg)
	if r.u8() != typeCertificate {
		t.Fatal("certificate vector is not a Certificate message")
	}
	body := newReader(r.vec24())
	ctx := body.vec8()
	list := newReader(body.vec24())
	der := list.vec24()
	exts := list.vec16()
	if !r.ok || !body.ok || !list.ok || !r.empty() || !body.empty() || !list.empty() || len(ctx) != 0 || len(exts) != 0 {
		t.Fatal("certificate vector does not hold exactly one certificate")
	}
	return der
}

// rawProtection builds a protection straight from an AES-128-GCM key and IV,
// bypassing the key schedule.
func rawProtection(t *testing.T, key, iv []byte) *protection {
	t.Helper()
	aead, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &protection{aead: aead}
	if len(iv) != aeadIVLen {
		t.Fatalf("IV is %d bytes", len(iv))
	}
	copy(p.iv[:], iv)
	return p
}

// splitMessages cuts a run of handshake messages into single messages.
func splitMessages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var msgs [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("%d stray bytes after the last handshake message", len(b))
		}
		n := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
		if n > len(b) {
			t.Fatalf("handshake message of type %d is truncated", b[0])
		}
		msgs = append(msgs, b[:n])
		b = b[n:]
	}
	return msgs
}

func TestRFC8448Simple1RTT(t *testing.T) {
	v := loadRFC8448(t)
	ch := v.get(t, "client_hello")
	sh := v.get(t, "server_hello")
	ee := v.get(t, "encrypted_extensions")
	cert := v.get(t, "certificate")
	cv := v.get(t, "certificate_verify")
	sfin := v.get(t, "server_finished")
	cfin := v.get(t, "client_finished")

	// The transcript hashes in the file must agree with the messages in it,
	// or every check below would be comparing typos.
	checkHex(t, "Hash(CH, SH)", sha256Of(ch, sh), v.get(t, "transcript_hash_ch_sh"))
	checkHex(t, "Hash(CH .. server Finished)", sha256Of(ch, sh, ee, cert, cv, sfin), v.get(t, "transcript_hash_ch_sf"))
	checkHex(t, "Hash(CH .. client Finished)", sha256Of(ch, sh, ee, cert, cv, sfin, cfin), v.get(t, "transcript_hash_ch_cf"))
	checkHex(t, "client_hello_record body", v.get(t, "client_hello_record")[recordHeaderLen:], ch)
	checkHex(t, "server_hello_record body", v.get(t, "server_hello_record")[recordHeaderLen:], sh)

	t.Run("key schedule", func(t *testing.T) {
		var s schedule
		s.init(sha256.New())
		n := s.size
		if n != 32 {
			t.Fatalf("SHA-256 schedule size = %d", n)
		}

		// The intermediate steps, through the kdf the schedule embeds.
		zeros := make([]byte, 32)
		early := make([]byte, 32)
		s.extract(early, zeros, zeros)
		checkHex(t, "early secret", early, v.get(t, "early_secret"))
		empty := make([]byte, 32)
		s.emptyHash(empty)
		checkHex(t, "Hash(\"\")", empty, v.get(t, "empty_hash"))
		derived := make([]byte, 32)
		s.expandLabel(derived, early, "derived", empty)
		checkHex(t, "derived (handshake)", derived, v.get(t, "derived_for_handshake"))

		s.handshakeSecrets(v.get(t, "ecdhe_shared"), v.get(t, "transcript_hash_ch_sh"))
		checkHex(t, "handshake secret", s.secret[:n], v.get(t, "handshake_secret"))
		checkHex(t, "client handshake traffic secret", s.clientHS[:n], v.get(t, "client_handshake_traffic_secret"))
		checkHex(t, "server handshake traffic secret", s.serverHS[:n], v.get(t, "server_handshake_traffic_secret"))

		s.expandLabel(derived, s.secret[:n], "derived", empty)
		checkHex(t, "derived (master)", derived, v.get(t, "derived_for_master"))

		// Finished keys and verify_data (§4.4.4). The server's covers the
		// transcript through CertificateVerify, the client's through the
		// server's Finished.
		fk := make([]byte, 32)
		s.expandLabel(fk, s.serverHS[:n], "finished", nil)
		checkHex(t, "server finished_key", fk, v.get(t, "server_finished_key"))
		s.expandLabel(fk, s.clientHS[:n], "finished", nil)
		checkHex(t, "client finished_key", fk, v.get(t, "client_finished_key"))
		vd := make([]byte, 32)
		s.finished(vd, s.serverHS[:n], sha256Of(ch, sh, ee, cert, cv))
		checkHex(t, "server verify_data", vd, v.get(t, "server_finished_verify_data"))
		checkHex(t, "server Finished body", vd, sfin[4:])
		s.finished(vd, s.clientHS[:n], sha256Of(ch, sh, ee, cert, cv, sfin))
		checkHex(t, "client verify_data", vd, v.get(t, "client_finished_verify_data"))
		checkHex(t, "client Finished body", vd, cfin[4:])

		// Handshake traffic keys (§7.3), both through expandLabel and
		// through protection.setKeys.
		aes128 := suiteByID(TLS_AES_128_GCM_SHA256)
		trafficKeys := func(side string, secret []byte) {
			t.Helper()
			key := make([]byte, aes128.keyLen)
			iv := make([]byte, aeadIVLen)
			s.expandLabel(key, secret, "key", nil)
			s.expandLabel(iv, secret, "iv", nil)
			checkHex(t, side+"_key", key, v.get(t, side+"_key"))
			checkHex(t, side+"_iv", iv, v.get(t, side+"_iv"))
			var p protection
			if err := p.setKeys(&s.kdf, aes128, secret); err != nil {
				t.Fatal(err)
			}
			checkHex(t, side+" setKeys iv", p.iv[:], v.get(t, side+"_iv"))
			// The key itself is wiped by setKeys; check it through the AEAD.
			want := rawProtection(t, v.get(t, side+"_key"), v.get(t, side+"_iv"))
			checkHex(t, side+" setKeys seal", p.seal(nil, recordHandshake, []byte("probe")), want.seal(nil, recordHandshake, []byte("probe")))
		}
		trafficKeys("server_handshake", s.serverHS[:n])
		trafficKeys("client_handshake", s.clientHS[:n])

		s.masterSecrets(v.get(t, "transcript_hash_ch_sf"))
		checkHex(t, "master secret", s.secret[:n], v.get(t, "master_secret"))
		checkHex(t, "client application traffic secret 0", s.clientAP[:n], v.get(t, "client_application_traffic_secret_0"))
		checkHex(t, "server application traffic secret 0", s.serverAP[:n], v.get(t, "server_application_traffic_secret_0"))
		trafficKeys("server_app", s.serverAP[:n])
		trafficKeys("client_app", s.clientAP[:n])

		// Secrets this server never uses, as a check on expandLabel with
		// other labels and contexts.
		exp := make([]byte, 32)
		s.expandLabel(exp, s.secret[:n], "exp master", v.get(t, "transcript_hash_ch_sf"))
		checkHex(t, "exporter master secret", exp, v.get(t, "exporter_master_secret"))
		s.expandLabel(exp, s.secret[:n], "res master", v.get(t, "transcript_hash_ch_cf"))
		checkHex(t, "resumption master secret", exp, v.get(t, "resumption_master_secret"))
	})

	t.Run("server hello", func(t *testing.T) {
		der := rfc8448CertDER(t, cert)
		key := rfc8448Key(t, v)
		// sendServerFlight reads the ServerHello random first, then the
		// X25519 private key (x25519Share); whatever follows (the PSS
		// salt) comes from crypto/rand.
		fixed := append(append([]byte(nil), v.get(t, "server_random")...), v.get(t, "server_x25519_private")...)
		var hello *ClientHello
		cfg := &Config{
			Rand: io.MultiReader(bytes.NewReader(fixed), rand.Reader),
			GetCertificate: func(h *ClientHello) (*Certificate, error) {
				hello = h
				return &Certificate{Chain: [][]byte{der}, PrivateKey: key}, nil
			},
		}
		c := NewServer(cfg)
		in := bytes.Clone(v.get(t, "client_hello_record"))
		res, err := c.Process(in, nil)
		if err != nil {
			t.Fatalf("Process: %v", err)
		}
		if res.Consumed != len(in) || res.Event != EventNeedMore {
			t.Fatalf("Process consumed %d of %d, event %v", res.Consumed, len(in), res.Event)
		}
		if hello == nil || hello.ServerName != "server" {
			t.Fatalf("GetCertificate saw %+v", hello)
		}
		shRec := v.get(t, "server_hello_record")
		if len(res.Out) < len(shRec) {
			t.Fatalf("output is only %d bytes", len(res.Out))
		}
		checkHex(t, "ServerHello record", res.Out[:len(shRec)], shRec)
		if st := c.State(); st.CipherSuite != TLS_AES_128_GCM_SHA256 || st.Group != GroupX25519 || st.ServerName != "server" {
			t.Errorf("state = %+v", st)
		}

		// The rest is the encrypted flight. No session ID, so no CCS.
		p := rawProtection(t, v.get(t, "server_handshake_key"), v.get(t, "server_handshake_iv"))
		var plain []byte
		for rest := bytes.Clone(res.Out[len(shRec):]); len(rest) > 0; {
			if len(rest) < recordHeaderLen {
				t.Fatalf("%d stray bytes", len(rest))
			}
			n := recordHeaderLen + (int(rest[3])<<8 | int(rest[4]))
			if rest[0] != recordApplicationData || n > len(rest) {
				t.Fatalf("bad protected record header % x", rest[:recordHeaderLen])
			}
			typ, content, aerr := p.open(rest[:n])
			if aerr != nil {
				t.Fatalf("opening the server flight with the RFC's keys: %v", aerr)
			}
			if typ != recordHandshake {
				t.Fatalf("inner content type %d", typ)
			}
			plain = append(plain, content...)
			rest = rest[n:]
		}
		msgs := splitMessages(t, plain)
		if len(msgs) != 4 {
			t.Fatalf("flight has %d messages, want EE, Certificate, CertificateVerify, Finished", len(msgs))
		}
		ourEE, ourCert, ourCV, ourFin := msgs[0], msgs[1], msgs[2], msgs[3]
		for i, typ := range []uint8{typeEncryptedExtensions, typeCertificate, typeCertificateVerify, typeFinished} {
			if msgs[i][0] != typ {
				t.Fatalf("message %d has type %d, want %d", i, msgs[i][0], typ)
			}
		}
		checkHex(t, "Certificate", ourCert, cert)
		// Ours carries record_size_limit and server_name but not
		// supported_groups.
		checkHex(t, "EncryptedExtensions", ourEE, []byte{8, 0, 0, 12, 0, 10, 0, 0x1c, 0, 2, 0x40, 0x01, 0, 0, 0, 0})

		// CertificateVerify: rsa_pss_rsae_sha256 over our transcript.
		cvr := newReader(ourCV[4:])
		scheme := cvr.u16()
		sig := cvr.vec16()
		if !cvr.ok || !cvr.empty() {
			t.Fatal("CertificateVerify is malformed")
		}
		if scheme != rsaPSSRSAESHA256 {
			t.Fatalf("scheme %#04x, want rsa_pss_rsae_sha256", scheme)
		}
		signed := append(bytes.Repeat([]byte{' '}, 64), "TLS 1.3, server CertificateVerify\x00"...)
		signed = append(signed, sha256Of(ch, sh, ourEE, ourCert)...)
		if err := rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, sha256Of(signed), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Errorf("CertificateVerify does not verify: %v", err)
		}
		// The RFC's own signature verifies over the RFC's transcript, which
		// checks the signed content is built the same way.
		rfcSigned := append(bytes.Repeat([]byte{' '}, 64), "TLS 1.3, server CertificateVerify\x00"...)
		rfcSigned = append(rfcSigned, sha256Of(ch, sh, ee, cert)...)
		checkHex(t, "signatureContext", signatureContext(nil, sha256Of(ch, sh, ee, cert)), rfcSigned)
		if err := rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, sha256Of(rfcSigned), cv[8:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			t.Errorf("the RFC's CertificateVerify does not verify: %v", err)
		}

		// Finished: HMAC(server finished_key, Hash(CH .. our CV)).
		mac := hmac.New(sha256.New, v.get(t, "server_finished_key"))
		mac.Write(sha256Of(ch, sh, ourEE, ourCert, ourCV))
		checkHex(t, "server Finished", ourFin, append([]byte{typeFinished, 0, 0, 32}, mac.Sum(nil)...))

		// An io.Reader may return fewer bytes than asked for; the random
		// must still be the reader's first 32 bytes.
		cfg.Rand = iotest.OneByteReader(io.MultiReader(bytes.NewReader(fixed), rand.Reader))
		res, err = NewServer(cfg).Process(bytes.Clone(v.get(t, "client_hello_record")), nil)
		if err != nil {
			t.Fatalf("Process with a one-byte reader: %v", err)
		}
		if len(res.Out) < len(shRec) || !bytes.Equal(res.Out[:len(shRec)], shRec) {
			t.Errorf("with a one-byte Rand the ServerHello differs:\n got %x\nwant %x", res.Out[:min(len(res.Out), len(shRec))], shRec)
		}
	})

	t.Run("record protection", func(t *testing.T) {
		plain := bytes.Join([][]byte{ee, cert, cv, sfin}, nil)
		p := rawProtection(t, v.get(t, "server_handshake_key"), v.get(t, "server_handshake_iv"))
		checkHex(t, "server flight record", p.seal(nil, recordHandshake, plain), v.get(t, "server_encrypted_record"))
		if p.seq != 1 {
			t.Errorf("sequence number after one record = %d", p.seq)
		}
		// The same through the key schedule's secret.
		var k kdf
		k.init(sha256.New())
		var q protection
		if err := q.setKeys(&k, suiteByID(TLS_AES_128_GCM_SHA256), v.get(t, "server_handshake_traffic_secret")); err != nil {
			t.Fatal(err)
		}
		checkHex(t, "server flight record (setKeys)", q.seal(nil, recordHandshake, plain), v.get(t, "server_encrypted_record"))

		rec := bytes.Clone(v.get(t, "client_finished_record"))
		o := rawProtection(t, v.get(t, "client_handshake_key"), v.get(t, "client_handshake_iv"))
		typ, content, aerr := o.open(rec)
		if aerr != nil {
			t.Fatalf("open client Finished record: %v", aerr)
		}
		if typ != recordHandshake {
			t.Errorf("inner type %d, want 22", typ)
		}
		checkHex(t, "client Finished", content, cfin)
		if &content[0] != &rec[recordHeaderLen] {
			t.Error("open did not decrypt in place")
		}

		// A flipped bit anywhere in the record fails authentication.
		for _, i := range []int{2, 4, recordHeaderLen, len(rec) - 1} {
			bad := bytes.Clone(v.get(t, "client_finished_record"))
			bad[i] ^= 1
			o := rawProtection(t, v.get(t, "client_handshake_key"), v.get(t, "client_handshake_iv"))
			if _, _, aerr := o.open(bad); aerr == nil || aerr.Alert != AlertBadRecordMAC {
				t.Errorf("flipped byte %d: err %v, want bad_record_mac", i, aerr)
			}
		}
	})

	t.Run("client finished", func(t *testing.T) {
		var s schedule
		s.init(sha256.New())
		secret := v.get(t, "client_handshake_traffic_secret")
		th := v.get(t, "transcript_hash_ch_sf")
		vd := bytes.Clone(v.get(t, "client_finished_verify_data"))
		if !s.verifyFinished(vd, secret, th) {
			t.Fatal("RFC client Finished rejected")
		}
		for i := 0; i < len(vd)*8; i += 37 {
			bad := bytes.Clone(vd)
			bad[i/8] ^= 1 << (i % 8)
			if s.verifyFinished(bad, secret, th) {
				t.Errorf("Finished with bit %d flipped accepted", i)
			}
		}
		if s.verifyFinished(vd[:31], secret, th) || s.verifyFinished(append(bytes.Clone(vd), 0), secret, th) {
			t.Error("Finished of the wrong length accepted")
		}
		if s.verifyFinished(vd, v.get(t, "server_handshake_traffic_secret"), th) {
			t.Error("client Finished accepted under the server's secret")
		}
	})

	t.Run("HRR random", func(t *testing.T) {
		want := sha256.Sum256([]byte("HelloRetryRequest"))
		if helloRetryRandom != want {
			t.Errorf("helloRetryRandom = %x, want %x", helloRetryRandom, want)
		}
	})
}
