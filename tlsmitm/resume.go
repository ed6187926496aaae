package tlsmitm

import (
	"crypto/sha256"
	"encoding/binary"
	"io"
	"slices"
)

// Session resumption with a PSK and (EC)DHE (RFC 8446 §2.2, §4.2.11,
// §4.6.1). Only psk_dhe_ke is accepted: a resumed handshake still runs a
// fresh key exchange, and only skips the certificate and its signature.
// Early data is never offered in our tickets, so never accepted.

// pskModeDHE is psk_dhe_ke (RFC 8446 §4.2.9); psk_ke (0) is refused.
const pskModeDHE uint8 = 1

// maxPSKTries bounds the identities tried per hello: each costs an AEAD
// open. Clients send one.
const maxPSKTries = 4

// PSKIdentity is one identity of the client's pre_shared_key extension.
type PSKIdentity struct {
	Identity            []byte
	ObfuscatedTicketAge uint32
}

// parsePreSharedKey reads the pre_shared_key extension of a ClientHello
// (RFC 8446 §4.2.11), which parse has already checked is the last one.
func (ch *ClientHello) parsePreSharedKey(data []byte) *AlertError {
	r := newReader(data)
	ids := newReader(r.vec16())
	binders := r.vec16()
	if !r.ok || !r.empty() {
		return alertf(AlertDecodeError, "ClientHello pre_shared_key is malformed")
	}
	ch.PSKIdentities = ch.pskIDBuf[:0]
	for ids.ok && !ids.empty() {
		id := ids.vec16()
		age := ids.bytes(4)
		if !ids.ok || len(id) == 0 {
			ids.fail()
			break
		}
		ch.PSKIdentities = append(ch.PSKIdentities, PSKIdentity{Identity: id, ObfuscatedTicketAge: binary.BigEndian.Uint32(age)})
	}
	br := newReader(binders)
	ch.PSKBinders = ch.pskBinderBuf[:0]
	for br.ok && !br.empty() {
		b := br.vec8()
		if !br.ok || len(b) < 32 {
			br.fail()
			break
		}
		ch.PSKBinders = append(ch.PSKBinders, b)
	}
	if !ids.ok || !br.ok || len(ch.PSKIdentities) == 0 || len(ch.PSKBinders) == 0 {
		return alertf(AlertDecodeError, "ClientHello pre_shared_key is malformed")
	}
	if len(ch.PSKBinders) != len(ch.PSKIdentities) {
		return alertf(AlertIllegalParameter, "ClientHello pre_shared_key has not one binder per identity")
	}
	ch.pskBindersLen = 2 + len(binders)
	return nil
}

// writeHelloTranscript adds a ClientHello to the transcript. When the
// hello may resume, it stops at the binders on the way to remember
// Transcript-Hash(Truncate(ClientHello)), which the binders sign (§4.2.11.2);
// after a HelloRetryRequest that hash covers the retry too, as it must.
func (c *Conn) writeHelloTranscript(msg []byte) {
	if c.cfg.Tickets == nil || len(c.hello.PSKIdentities) == 0 {
		c.transcript.Write(msg)
		return
	}
	cut := len(msg) - c.hello.pskBindersLen
	c.transcript.Write(msg[:cut])
	c.transcript.Sum(c.binderHash[:0])
	c.transcript.Write(msg[cut:])
}

// resumeOrCertificate resumes the session of a ticket the client offers,
// or else goes on with a full handshake.
func (c *Conn) resumeOrCertificate(out []byte) (state, []byte, *AlertError) {
	ok, err := c.tryResume()
	if err != nil {
		return nil, out, err
	}
	if ok {
		if c.cfg.ParkResumed {
			return awaitCertificate{}, out, nil // Resume or SetCertificate goes on
		}
		// The certificate callback is not consulted: the session was
		// authenticated by the handshake that issued the ticket.
		return c.sendServerFlight(resumedCert, out)
	}
	return c.askCertificate(out)
}

// Resumable reports whether a pending handshake (Config.ParkResumed) can
// resume the session of a ticket the client offered: its binder verified.
func (c *Conn) Resumable() bool {
	_, pending := c.st.(awaitCertificate)
	return pending && c.resumed
}

// Resume goes on with a handshake parked by Config.ParkResumed, resuming
// the session, and appends the server's flight to out.
func (c *Conn) Resume(out []byte) ([]byte, error) {
	if c.err != nil {
		return out, c.err
	}
	if !c.Resumable() {
		return out, alertf(AlertInternalError, "Resume without a pending resumable handshake")
	}
	return c.continueFlight(resumedCert, out)
}

// declineResumption turns a resumable pending handshake into a full one:
// the ServerHello will carry no pre_shared_key, so the client runs the
// full handshake on the same ClientHello (RFC 8446 §4.2.11), and the early
// secret is the PSK-less one again.
func (c *Conn) declineResumption() {
	c.resumed = false
	c.pskIdentity = 0
	c.sched.pskEarly = false
	clear(c.sched.secret[:])
}

// SetSessionContext ties the tickets this connection issues, and any it
// resumes, to ctx: a ticket resumes only on a connection given the same
// context. The proxy passes the organisation, so a session authenticated
// under one organisation's certificate never resumes under another's.
// Call it before the first Process.
func (c *Conn) SetSessionContext(ctx []byte) {
	sum := sha256.Sum256(ctx)
	c.sessionCtx = sum[:]
}

// resumedCert stands in for the certificate of a resumed handshake.
var resumedCert = &Certificate{}

// tryResume looks for a ticket it can accept among the client's
// identities, in order. An identity that does not open, or that opens to a
// session we cannot resume here, is passed over; the first acceptable one
// must carry a valid binder, or the handshake fails with decrypt_error.
func (c *Conn) tryResume() (bool, *AlertError) {
	ch := &c.hello
	tk := c.cfg.Tickets
	if tk == nil || len(ch.PSKIdentities) == 0 {
		return false, nil
	}
	if ch.PSKModes == nil {
		// §4.2.9: pre_shared_key without psk_key_exchange_modes.
		return false, alertf(AlertMissingExtension, "ClientHello offers a PSK without psk_key_exchange_modes")
	}
	if !slices.Contains(ch.PSKModes, pskModeDHE) {
		return false, nil // psk_ke alone: full handshake
	}
	n := c.sched.size
	now := c.cfg.now()
	nowMs := now.UnixMilli()
	skew := ticketAgeSkew.Milliseconds()
	for i, id := range ch.PSKIdentities {
		if i == maxPSKTries {
			break
		}
		if cap(c.scratch) < maxTicketPlain {
			putBuffer(c.scratch)
			c.scratch = getFlightBuffer(max(maxTicketPlain, 2048+maxServerShare))
		}
		plain, ok := tk.open(c.scratch[:0], id.Identity)
		if !ok {
			continue
		}
		t, ok := parseTicketState(plain)
		s := suiteByID(t.suite)
		age := nowMs - t.created
		clientAge := int64(id.ObfuscatedTicketAge - t.ageAdd)
		// A lifetime shortened since the ticket was issued applies too.
		lifetime := min(int64(t.lifetime), int64(c.cfg.ticketLifetime().Seconds())) * 1000
		ok = ok && t.version == versionTLS13 &&
			s != nil && s.hash == c.suite.hash && len(t.psk) == n &&
			// §4.6.1: never past its lifetime; not from our future either.
			age >= -skew && age <= lifetime &&
			// §8.3: the client's view of the age must match ours.
			clientAge <= lifetime+skew && clientAge-age <= skew && age-clientAge <= skew &&
			// The session authenticated this name, and no other, in
			// this context (SetSessionContext).
			string(t.sni) == ch.ServerName && string(t.ctx) == string(c.sessionCtx)
		if ok {
			c.sched.pskEarlySecret(t.psk)
		}
		clear(plain)
		if !ok {
			continue
		}
		if !c.sched.verifyFinished(ch.PSKBinders[i], c.sched.binderKey[:n], c.binderHash[:n]) {
			return false, alertf(AlertDecryptError, "PSK binder does not verify")
		}
		clear(c.sched.binderKey[:])
		c.resumed = true
		c.pskIdentity = uint16(i)
		return true, nil
	}
	return false, nil
}

// pskEarlySecret starts the schedule from a PSK (§7.1): the early secret
// and the binder key of a resumption PSK.
func (s *schedule) pskEarlySecret(psk []byte) {
	n := s.size
	s.extract(s.secret[:n], s.zeros[:n], psk) // Early Secret
	s.emptyHash(s.scratch[:n])
	s.expandLabel(s.binderKey[:n], s.secret[:n], "res binder", s.scratch[:n])
	s.pskEarly = true
}

// ticketNonce is the ticket_nonce of our one ticket per connection; the
// nonce need only be unique within a connection (§4.6.1).
var ticketNonce = []byte{0}

// sendSessionTicket appends a NewSessionTicket (§4.6.1) under the
// application keys. The server asks for no client certificate, so it can
// compute the client's Finished itself and issue the ticket with its own
// flight, as §4.6.1 permits, rather than a round trip later. Call it with
// the master secret in s.secret and Transcript-Hash(..server Finished) in
// s.transcript.
func (c *Conn) sendSessionTicket(out []byte) ([]byte, *AlertError) {
	tk := c.cfg.Tickets
	s := &c.sched
	n := s.size
	km := s.keyMaterial

	// resumption_master_secret needs the transcript through the client's
	// Finished; the PSK follows from it and the nonce.
	km.cfMsg[0], km.cfMsg[1], km.cfMsg[2], km.cfMsg[3] = typeFinished, 0, 0, byte(n)
	s.finished(km.cfMsg[4:4+n], s.clientHS[:n], s.transcript[:n])
	c.transcript.Write(km.cfMsg[:4+n])
	clear(km.cfMsg[:])
	c.transcript.Sum(s.scratch[:0])
	s.expandLabel(km.psk[:n], s.secret[:n], "res master", s.scratch[:n])
	s.expandLabel(km.psk[:n], km.psk[:n], "resumption", ticketNonce)
	defer clear(km.psk[:])

	if _, err := io.ReadFull(c.rand, c.pad.random[:4]); err != nil {
		return out, alertf(AlertInternalError, "reading randomness failed")
	}
	ageAdd := binary.BigEndian.Uint32(c.pad.random[:4])
	lifetime := uint32(c.cfg.ticketLifetime().Seconds())

	m := slices.Grow(c.scratch[:0], 64+maxTicketLen)
	m = append(m, typeNewSessionTicket, 0, 0, 0)
	m = binary.BigEndian.AppendUint32(m, lifetime)
	m = binary.BigEndian.AppendUint32(m, ageAdd)
	m = append(m, byte(len(ticketNonce)))
	m = append(m, ticketNonce...)
	m, tv := openVec(m, 2)
	start := len(m)
	m = append(m, make([]byte, ticketHeaderLen)...)
	m = appendTicketState(m, &ticketState{
		version:  versionTLS13,
		suite:    c.suite.id,
		created:  c.cfg.now().UnixMilli(),
		lifetime: lifetime,
		ageAdd:   ageAdd,
		psk:      km.psk[:n],
		sni:      []byte(c.hello.ServerName),
		alpn:     []byte(c.alpn),
		ctx:      c.sessionCtx,
	})
	m, ok := tk.seal(m, start)
	if !ok {
		clear(m)
		return out, nil // keys closed: no ticket, no harm
	}
	closeVec(m, tv, 2)
	m = putU16(m, 0) // no extensions: no early_data
	closeVec(m, 1, 3)
	for rest := m; len(rest) > 0; {
		k := min(len(rest), c.maxFragment)
		out = c.write.seal(out, recordHandshake, rest[:k])
		rest = rest[k:]
	}
	c.scratch = m[:0]
	return out, nil
}
