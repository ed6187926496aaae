package tlsmitm

import (
	"bytes"
	"io"
	"slices"
)

// state is one step of the server handshake (RFC 8446 §2, §4). handle takes
// one complete handshake message (header included) and returns the state
// that follows; a message a state does not expect is unexpected_message.
type state interface {
	handle(c *Conn, msg, out []byte) (state, []byte, *AlertError)
}

type (
	expectClientHello       struct{}
	expectSecondClientHello struct{} // after a HelloRetryRequest
	awaitCertificate        struct{} // GetCertificate answered later
	expectFinished          struct{}
	expectTraffic           struct{} // post-handshake messages
)

// helloRetryRandom is the Random of a HelloRetryRequest: SHA-256 of
// "HelloRetryRequest" (RFC 8446 §4.1.3).
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

func (expectClientHello) handle(c *Conn, msg, out []byte) (state, []byte, *AlertError) {
	if msg[0] != typeClientHello {
		return nil, out, alertf(AlertUnexpectedMessage, "first handshake message is not a ClientHello")
	}
	ch := &c.hello
	peeked := c.peeked
	c.peeked = nil
	if !bytes.Equal(peeked, msg) || !ch.rebase(peeked, msg) {
		if err := ch.parse(msg); err != nil {
			return nil, out, err
		}
	}
	if err := checkClientHello13(ch); err != nil {
		return nil, out, err
	}
	c.suite = chooseSuite(c.cfg.cipherSuites(), ch.CipherSuites)
	if c.suite == nil {
		return nil, out, alertf(AlertHandshakeFailure, "no cipher suite in common")
	}
	if err := c.negotiateALPN(); err != nil {
		return nil, out, err
	}
	c.compatCCS = len(ch.SessionID) > 0
	c.earlyData = ch.EarlyData
	if err := c.allocKeyMaterial(); err != nil {
		return nil, out, err
	}
	c.transcript = c.suite.newHash()
	c.sched.init(c.suite.newHash())
	c.writeHelloTranscript(msg)

	share, retry := c.chooseGroup()
	if share == nil {
		if retry == 0 {
			return nil, out, alertf(AlertHandshakeFailure, "no key exchange group in common")
		}
		c.group = retry
		out = c.sendHelloRetryRequest(out)
		return expectSecondClientHello{}, out, nil
	}
	c.group = share.Group
	return c.resumeOrCertificate(out)
}

func (expectSecondClientHello) handle(c *Conn, msg, out []byte) (state, []byte, *AlertError) {
	if msg[0] != typeClientHello {
		return nil, out, alertf(AlertUnexpectedMessage, "expected a second ClientHello after HelloRetryRequest")
	}
	ch := &c.hello
	if err := ch.parse(msg); err != nil {
		return nil, out, err
	}
	if err := checkClientHello13(ch); err != nil {
		return nil, out, err
	}
	// §4.1.2: the second hello carries one share, for the group asked for,
	// no early_data, and may not drop the suite already chosen.
	if len(ch.KeyShares) != 1 || ch.KeyShares[0].Group != c.group {
		return nil, out, alertf(AlertIllegalParameter, "second ClientHello does not carry the one key share asked for")
	}
	if ch.EarlyData {
		return nil, out, alertf(AlertIllegalParameter, "second ClientHello offers early data")
	}
	// Rejected 0-RTT records from the first flight all came before this
	// hello; from here on a record that fails to open is an error.
	c.earlyData = false
	if !contains16(ch.CipherSuites, c.suite.id) {
		return nil, out, alertf(AlertIllegalParameter, "second ClientHello dropped the chosen cipher suite")
	}
	if err := c.negotiateALPN(); err != nil {
		return nil, out, err
	}
	c.writeHelloTranscript(msg)
	return c.resumeOrCertificate(out)
}

func (awaitCertificate) handle(_ *Conn, _, out []byte) (state, []byte, *AlertError) {
	return nil, out, alertf(AlertUnexpectedMessage, "handshake message while the certificate is pending")
}

func (expectFinished) handle(c *Conn, msg, out []byte) (state, []byte, *AlertError) {
	if msg[0] != typeFinished {
		return nil, out, alertf(AlertUnexpectedMessage, "expected the client's Finished")
	}
	n := c.sched.size
	if len(msg)-4 != n {
		// §6.2: a message of the wrong length is decode_error; only a
		// well-formed Finished that fails to verify is decrypt_error.
		return nil, out, alertf(AlertDecodeError, "client Finished has the wrong length")
	}
	// The client's Finished covers the transcript up to the server's
	// Finished, which is exactly the hash the application secrets used.
	if !c.sched.verifyFinished(msg[4:], c.sched.clientHS[:n], c.sched.transcript[:n]) {
		return nil, out, alertf(AlertDecryptError, "client Finished does not verify")
	}
	if err := c.read.setKeys(&c.sched.kdf, c.suite, c.sched.clientAP[:n]); err != nil {
		return nil, out, alertf(AlertInternalError, "installing traffic keys failed")
	}
	clear(c.sched.clientHS[:])
	clear(c.sched.serverHS[:])
	c.transcript = nil
	return expectTraffic{}, out, nil
}

func (expectTraffic) handle(c *Conn, msg, out []byte) (state, []byte, *AlertError) {
	switch msg[0] {
	case typeKeyUpdate:
		return c.handleKeyUpdate(msg, out)
	}
	// We never send CertificateRequest and accept no early data, so a
	// client has no other post-handshake message to send (a ticket asks
	// for no answer).
	return nil, out, alertf(AlertUnexpectedMessage, "unexpected post-handshake message")
}

// handleKeyUpdate moves the client's traffic key forward and, when asked,
// our own (§4.6.3).
func (c *Conn) handleKeyUpdate(msg []byte, out []byte) (state, []byte, *AlertError) {
	if len(msg) != 5 || msg[4] > 1 {
		if len(msg) != 5 {
			return nil, out, alertf(AlertDecodeError, "KeyUpdate has the wrong length")
		}
		return nil, out, alertf(AlertIllegalParameter, "KeyUpdate request_update is neither 0 nor 1")
	}
	n := c.sched.size
	c.sched.nextTrafficSecret(c.sched.clientAP[:n])
	if err := c.read.setKeys(&c.sched.kdf, c.suite, c.sched.clientAP[:n]); err != nil {
		return nil, out, alertf(AlertInternalError, "installing traffic keys failed")
	}
	if msg[4] == 1 && !c.sentClose {
		var err *AlertError
		if out, err = c.updateWriteKeys(out); err != nil {
			return nil, out, err
		}
	}
	return expectTraffic{}, out, nil
}

// keyUpdateNotRequested is our KeyUpdate: we move our own keys forward and
// do not ask the client to (§4.6.3).
var keyUpdateNotRequested = []byte{typeKeyUpdate, 0, 0, 1, 0}

// updateWriteKeys sends a KeyUpdate under the current keys, then moves the
// server's traffic secret and keys forward (§7.2).
func (c *Conn) updateWriteKeys(out []byte) ([]byte, *AlertError) {
	n := c.sched.size
	out = c.write.seal(out, recordHandshake, keyUpdateNotRequested)
	c.sched.nextTrafficSecret(c.sched.serverAP[:n])
	if err := c.write.setKeys(&c.sched.kdf, c.suite, c.sched.serverAP[:n]); err != nil {
		return out, alertf(AlertInternalError, "installing traffic keys failed")
	}
	c.sealedSinceUpdate = 0
	c.keyUpdates++
	return out, nil
}

// checkClientHello13 refuses a hello that cannot lead to TLS 1.3.
func checkClientHello13(ch *ClientHello) *AlertError {
	if !contains16(ch.SupportedVersions, versionTLS13) {
		// §4.2.1 and §D: a client that offers no TLS 1.3 gets protocol_version.
		return alertf(AlertProtocolVersion, "client does not offer TLS 1.3")
	}
	if len(ch.CompressionMethods) != 1 || ch.CompressionMethods[0] != 0 {
		return alertf(AlertIllegalParameter, "TLS 1.3 ClientHello offers compression")
	}
	// §9.2: without a PSK, a hello must carry supported_groups, key_share
	// and signature_algorithms; a missing one is missing_extension.
	if ch.Groups == nil || !ch.KeyShareSent {
		return alertf(AlertMissingExtension, "ClientHello lacks supported_groups or key_share")
	}
	if ch.SignatureSchemes == nil {
		return alertf(AlertMissingExtension, "ClientHello lacks signature_algorithms")
	}
	for _, ks := range ch.KeyShares {
		if !containsGroup(ch.Groups, ks.Group) {
			// §4.2.8: a share for a group the client did not list.
			return alertf(AlertIllegalParameter, "key share for a group missing from supported_groups")
		}
	}
	return nil
}

// chooseGroup returns the client's share for the server's most preferred
// group that has one. With none, it returns the group a HelloRetryRequest
// should ask for: the server's most preferred group the client supports.
func (c *Conn) chooseGroup() (*KeyShare, Group) {
	prefs := c.cfg.groups()
	for _, g := range prefs {
		for i := range c.hello.KeyShares {
			if c.hello.KeyShares[i].Group == g && g.supported() {
				return &c.hello.KeyShares[i], 0
			}
		}
	}
	for _, g := range prefs {
		if g.supported() && containsGroup(c.hello.Groups, g) {
			return nil, g
		}
	}
	return nil, 0
}

func containsGroup(list []Group, g Group) bool {
	for _, x := range list {
		if x == g {
			return true
		}
	}
	return false
}

// negotiateALPN picks the server's most preferred protocol the client
// offers. A client whose list shares nothing with ours gets
// no_application_protocol (RFC 7301 §3.2).
func (c *Conn) negotiateALPN() *AlertError {
	c.alpn = ""
	if len(c.hello.ALPNProtocols) == 0 || len(c.cfg.NextProtos) == 0 {
		return nil
	}
	for _, p := range c.cfg.NextProtos {
		for _, q := range c.hello.ALPNProtocols {
			if p == q {
				c.alpn = p
				return nil
			}
		}
	}
	return alertf(AlertNoApplicationProtocol, "client offers no application protocol the server speaks")
}

// askCertificate runs the certificate callback; a nil answer parks the
// handshake until SetCertificate.
func (c *Conn) askCertificate(out []byte) (state, []byte, *AlertError) {
	if c.cfg.GetCertificate == nil {
		return nil, out, alertf(AlertInternalError, "server has no certificate callback")
	}
	cert, err := c.cfg.GetCertificate(&c.hello)
	if err != nil {
		return nil, out, callbackAlert(err)
	}
	if cert == nil {
		return awaitCertificate{}, out, nil
	}
	return c.sendServerFlight(cert, out)
}

func callbackAlert(err error) *AlertError {
	if ae, ok := err.(*AlertError); ok {
		return ae
	}
	return alertf(AlertHandshakeFailure, "no certificate: "+err.Error())
}

// SetCertificate resumes a handshake that GetCertificate (or
// Config.ParkResumed) left pending and appends the server's flight to out.
// A nil cert aborts with handshake_failure. On a resumable handshake it
// declines the ticket: the handshake is a full one with cert.
func (c *Conn) SetCertificate(cert *Certificate, out []byte) ([]byte, error) {
	if c.err != nil {
		return out, c.err
	}
	if _, ok := c.st.(awaitCertificate); !ok {
		return out, alertf(AlertInternalError, "SetCertificate without a pending handshake")
	}
	if cert == nil {
		return c.Abort(out, AlertHandshakeFailure, "no certificate for this server name")
	}
	if c.resumed {
		c.declineResumption() // Config.ParkResumed: a certificate means a full handshake
	}
	return c.continueFlight(cert, out)
}

// continueFlight sends the server's flight of a pending handshake.
func (c *Conn) continueFlight(cert *Certificate, out []byte) ([]byte, error) {
	next, out, err := c.sendServerFlight(cert, out)
	if err != nil {
		res, ferr := c.fail(Result{Out: out}, err)
		return res.Out, ferr
	}
	c.st = next
	if c.hsOff == len(c.hs) {
		c.hs, c.hsOff = c.hs[:0], 0
	}
	return out, nil
}

// sendHelloRetryRequest asks the client for a share of c.group (§4.1.4).
// The transcript restarts from a synthetic message_hash of ClientHello1.
func (c *Conn) sendHelloRetryRequest(out []byte) []byte {
	sum := c.transcript.Sum(c.pad.sum[:0])
	c.transcript.Reset()
	c.transcript.Write([]byte{typeMessageHash, 0, 0, byte(len(sum))})
	c.transcript.Write(sum)

	m := c.startMessage(typeServerHello)
	m = c.appendServerHelloHead(m, helloRetryRandom[:])
	m, exts := openVec(m, 2)
	m = putU16(m, extSupportedVersions)
	m = putU16(m, 2)
	m = putU16(m, versionTLS13)
	m = putU16(m, extKeyShare)
	m = putU16(m, 2)
	m = putU16(m, uint16(c.group))
	closeVec(m, exts, 2)
	m = c.finishMessage(m)
	out = appendPlainRecord(out, recordHandshake, m)
	if c.compatCCS {
		out = appendPlainRecord(out, recordChangeCipherSpec, []byte{1})
	}
	c.hrrSent = true
	return out
}

// sendServerFlight writes ServerHello, then EncryptedExtensions,
// Certificate, CertificateVerify and Finished under the handshake keys,
// and installs the keys for what follows (§4.1.3–§4.4).
func (c *Conn) sendServerFlight(cert *Certificate, out []byte) (state, []byte, *AlertError) {
	var scheme uint16
	if !c.resumed {
		if len(cert.Chain) == 0 || cert.PrivateKey == nil {
			return nil, out, alertf(AlertInternalError, "certificate has no chain or no key")
		}
		var ok bool
		scheme, ok = chooseScheme(cert.PrivateKey, c.hello.SignatureSchemes)
		if !ok {
			return nil, out, alertf(AlertHandshakeFailure, "client accepts no signature scheme our certificate key can make")
		}
	}
	// One buffer, sized once, builds the whole flight: ServerHello (up to
	// an ML-KEM ciphertext), then the chain and a signature.
	need := 2048 + maxServerShare
	for _, der := range cert.Chain {
		need += len(der) + 8
	}
	if cap(c.scratch) < need {
		putBuffer(c.scratch) // a HelloRetryRequest's, or a ticket's
		c.scratch = getFlightBuffer(need)
	}
	var share *KeyShare
	for i := range c.hello.KeyShares {
		if c.hello.KeyShares[i].Group == c.group {
			share = &c.hello.KeyShares[i]
		}
	}
	random := c.pad.random[:]
	if _, err := io.ReadFull(c.rand, random); err != nil {
		return nil, out, alertf(AlertInternalError, "reading randomness failed")
	}
	var pub [maxServerShare]byte
	shared := &c.sched.shared
	defer clear(shared[:])
	pubLen, sharedLen, aerr := serverShare(c.group, share.Data, c.rand, pub[:], shared, &c.sched.seed)
	if aerr != nil {
		return nil, out, aerr
	}

	// ServerHello (§4.1.3).
	m := c.startMessage(typeServerHello)
	m = c.appendServerHelloHead(m, random)
	m, exts := openVec(m, 2)
	m = putU16(m, extKeyShare)
	m = putU16(m, uint16(4+pubLen))
	m = putU16(m, uint16(c.group))
	m = putU16(m, uint16(pubLen))
	m = append(m, pub[:pubLen]...)
	m = putU16(m, extSupportedVersions)
	m = putU16(m, 2)
	m = putU16(m, versionTLS13)
	if c.resumed {
		m = putU16(m, extPreSharedKey) // §4.2.11: selected_identity
		m = putU16(m, 2)
		m = putU16(m, c.pskIdentity)
	}
	closeVec(m, exts, 2)
	m = c.finishMessage(m)
	out = appendPlainRecord(out, recordHandshake, m)
	if c.compatCCS && !c.hrrSent {
		out = appendPlainRecord(out, recordChangeCipherSpec, []byte{1})
	}

	n := c.sched.size
	c.transcript.Sum(c.sched.transcript[:0])
	c.sched.handshakeSecrets(shared[:sharedLen], c.sched.transcript[:n])
	if c.write.setKeys(&c.sched.kdf, c.suite, c.sched.serverHS[:n]) != nil ||
		c.read.setKeys(&c.sched.kdf, c.suite, c.sched.clientHS[:n]) != nil {
		return nil, out, alertf(AlertInternalError, "installing handshake keys failed")
	}

	// The rest of the flight is built in one buffer and sealed in as few
	// records as fit.
	flight := c.scratch[:0]
	flight = c.appendEncryptedExtensions(flight)
	if c.resumed {
		// §2.2: a resumed handshake has no Certificate or CertificateVerify.
		c.transcript.Write(flight)
		return c.finishServerFlight(flight, out)
	}
	certStart := len(flight)
	flight = appendCertificate(flight, cert.Chain)
	flight = c.compressCertificate(flight, certStart)
	c.transcript.Write(flight)
	cvStart := len(flight)
	flight, aerr = c.appendCertificateVerify(flight, cert, scheme)
	if aerr != nil {
		return nil, out, aerr
	}
	c.transcript.Write(flight[cvStart:])
	return c.finishServerFlight(flight, out)
}

// finishServerFlight appends our Finished to the flight, seals it, moves
// to the application keys and, with Config.Tickets, issues a ticket.
func (c *Conn) finishServerFlight(flight, out []byte) (state, []byte, *AlertError) {
	n := c.sched.size
	finStart := len(flight)
	flight = append(flight, typeFinished, 0, 0, byte(n))
	c.transcript.Sum(c.sched.scratch[:0])
	flight = slices.Grow(flight, n)[:len(flight)+n]
	c.sched.finished(flight[finStart+4:], c.sched.serverHS[:n], c.sched.scratch[:n])
	c.transcript.Write(flight[finStart:])
	for rest := flight; len(rest) > 0; {
		k := min(len(rest), c.maxFragment)
		out = c.write.seal(out, recordHandshake, rest[:k])
		rest = rest[k:]
	}
	c.scratch = flight[:0]

	// Application secrets need only the transcript through our Finished;
	// the client's Finished is checked against the same hash.
	c.transcript.Sum(c.sched.transcript[:0])
	c.sched.masterSecrets(c.sched.transcript[:n])
	if c.write.setKeys(&c.sched.kdf, c.suite, c.sched.serverAP[:n]) != nil {
		return nil, out, alertf(AlertInternalError, "installing traffic keys failed")
	}
	if c.cfg.Tickets != nil {
		var aerr *AlertError
		if out, aerr = c.sendSessionTicket(out); aerr != nil {
			return nil, out, aerr
		}
	}
	return expectFinished{}, out, nil
}

func (c *Conn) startMessage(typ uint8) []byte {
	return append(c.scratch[:0], typ, 0, 0, 0)
}

// finishMessage fills in the 24-bit length of a message begun by
// startMessage, adds it to the transcript and returns it.
func (c *Conn) finishMessage(m []byte) []byte {
	closeVec(m, 1, 3)
	c.transcript.Write(m)
	c.scratch = m[:0]
	return m
}

func (c *Conn) appendServerHelloHead(m, random []byte) []byte {
	m = putU16(m, versionTLS12) // legacy_version (§4.1.3)
	m = append(m, random...)
	m = append(m, byte(len(c.hello.SessionID)))
	m = append(m, c.hello.SessionID...)
	m = putU16(m, c.suite.id)
	return append(m, 0) // legacy_compression_method
}

func (c *Conn) appendEncryptedExtensions(m []byte) []byte {
	start := len(m)
	m = append(m, typeEncryptedExtensions, 0, 0, 0)
	m, exts := openVec(m, 2)
	if c.hello.RecordSizeLimit != 0 {
		// RFC 8449 §4: in TLS 1.3 the limit counts the content type byte.
		c.maxFragment = min(maxPlaintext, int(c.hello.RecordSizeLimit)-1)
		m = putU16(m, extRecordSizeLimit)
		m = putU16(m, 2)
		m = putU16(m, maxPlaintext+1)
	}
	if c.hello.ServerName != "" {
		m = putU16(m, extServerName) // RFC 6066 §3: an empty server_name acknowledges SNI
		m = putU16(m, 0)
	}
	if c.alpn != "" {
		m = putU16(m, extALPN)
		m = putU16(m, uint16(3+len(c.alpn)))
		m = putU16(m, uint16(1+len(c.alpn)))
		m = append(m, byte(len(c.alpn)))
		m = append(m, c.alpn...)
	}
	closeVec(m, exts, 2)
	closeVec(m, start+1, 3)
	return m
}

// appendCertificate writes the Certificate message (§4.4.2) with an empty
// request context and no per-certificate extensions.
func appendCertificate(m []byte, chain [][]byte) []byte {
	start := len(m)
	m = append(m, typeCertificate, 0, 0, 0)
	m = append(m, 0) // certificate_request_context
	m, list := openVec(m, 3)
	for _, der := range chain {
		m = putU24(m, len(der))
		m = append(m, der...)
		m = putU16(m, 0)
	}
	closeVec(m, list, 3)
	closeVec(m, start+1, 3)
	return m
}

func (c *Conn) appendCertificateVerify(m []byte, cert *Certificate, scheme uint16) ([]byte, *AlertError) {
	signed := signatureContext(c.pad.signed[:0], c.transcript.Sum(c.pad.sum[:0]))
	sig, err := sign(cert.PrivateKey, scheme, c.rand, signed, &c.pad.digest)
	if err != nil {
		return m, alertf(AlertInternalError, "signing CertificateVerify failed: "+err.Error())
	}
	m = append(m, typeCertificateVerify)
	m = putU24(m, 4+len(sig))
	m = putU16(m, scheme)
	m = putU16(m, uint16(len(sig)))
	return append(m, sig...), nil
}

// SetNegotiatedProtocol chooses the ALPN protocol while the handshake waits
// for its certificate: an inspecting proxy answers with what the origin
// chose, which it learns only after the ClientHello. p must be one the
// client offered, or "" for none.
func (c *Conn) SetNegotiatedProtocol(p string) error {
	if _, ok := c.st.(awaitCertificate); !ok {
		return alertf(AlertInternalError, "the protocol can be chosen only while the certificate is pending")
	}
	if p != "" && !containsString(c.hello.ALPNProtocols, p) {
		return alertf(AlertInternalError, "protocol "+p+" was not offered by the client")
	}
	c.alpn = p
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Hello returns the parsed ClientHello while the handshake is pending; nil
// otherwise. It points into the Conn, whose buffers are reused once the
// handshake goes on or the Conn is released: Clone it to keep it longer.
func (c *Conn) Hello() *ClientHello {
	if _, ok := c.st.(awaitCertificate); !ok {
		return nil
	}
	return &c.hello
}
