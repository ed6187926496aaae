// Package tlsmitm is Lucid's TLS server: a sans-IO TLS 1.3 server (RFC
// 8446), the ClientHello parser and JA4. A Conn takes received bytes,
// decrypts complete records in place, and appends what must be sent to a
// buffer the caller owns. It never touches a socket, never blocks and
// starts no goroutine, so an event loop can drive thousands of them. The
// origin side (the uTLS handshake that mirrors the client's hello) is
// package origin, which takes the ClientHello parsed here.
//
// The record layer (record.go) is separate from the handshake states
// (handshake.go): each state is a type whose handle method takes one
// handshake message and returns the next state.
package tlsmitm

import (
	"crypto/rand"
	"hash"
	"io"
	"sync"
	"unsafe"
)

// Event says what a call to Process produced.
type Event uint8

const (
	// EventNeedMore: no complete record is left in the input.
	EventNeedMore Event = iota
	// EventPending: the handshake waits for Conn.SetCertificate; nothing
	// more is consumed until then.
	EventPending
	// EventHandshakeDone: the client's Finished checked out; application
	// data flows from here on.
	EventHandshakeDone
	// EventData: Result.Data holds application data.
	EventData
	// EventClosed: the peer sent close_notify.
	EventClosed
	// EventLegacy: with Config.LegacyHandoff, the first ClientHello offers
	// TLS 1.2 but not TLS 1.3. Nothing was consumed or sent: the caller
	// hands the connection, ClientHello bytes included, to a TLS 1.2
	// server (legacy.go).
	EventLegacy
)

func (e Event) String() string {
	return [...]string{"need-more", "pending", "handshake-done", "data", "closed", "legacy"}[e]
}

// Result is what one call to Process did.
type Result struct {
	// Consumed is how many bytes at the front of the input were used up;
	// the caller discards them. Bytes past it are a partial record.
	Consumed int
	// Out is the caller's output buffer with records to send appended.
	// After an error it ends with the alert to send.
	Out   []byte
	Event Event
	// Data is the plaintext of EventData. It aliases the input and is
	// valid until the caller discards the consumed bytes.
	Data []byte
}

// Conn is the server side of one TLS 1.3 connection.
//
// A Conn is not safe for concurrent use: it belongs to the goroutine (event
// loop) that owns the connection.
type Conn struct {
	cfg  *Config
	rand io.Reader
	st   state

	read, write protection
	sched       schedule
	suite       *suite
	transcript  hash.Hash
	hello       ClientHello
	group       Group
	hrrSent     bool
	compatCCS   bool // the client asked for middlebox compatibility (RFC 8446 §D.4)
	ccsSeen     bool
	earlyData   bool // the client offered 0-RTT, which is never accepted
	earlyBudget int  // bytes of rejected early data still to skip (§4.2.10)
	alpn        string
	maxFragment int
	// certCompression is the algorithm our Certificate was compressed
	// with (RFC 8879), 0 for none.
	certCompression uint16

	// hs reassembles handshake messages that span records (§5.1).
	hs    []byte
	hsOff int

	complete   bool
	readClosed bool
	// legacyChecked: the hello was found to need no TLS 1.2 hand-off
	// (legacy.go); legacy: it does.
	legacyChecked, legacy bool
	// peeked is the first hello's bytes as peekLegacy parsed them into
	// hello, in the caller's input; expectClientHello moves that parse
	// onto its own copy of the message rather than parse it again.
	peeked    []byte
	sentClose bool
	err       error

	scratch []byte // builds outgoing handshake messages
	pad     scratchpad
	// keyBlock is the Config.Memory block under sched.keyMaterial.
	keyBlock []byte
	// sealedSinceUpdate counts application bytes under the current write
	// keys, for Config.KeyUpdateAfter.
	sealedSinceUpdate int64
	keyUpdates        int // KeyUpdates sent, ours and answers

	// Resumption (resume.go).
	resumed     bool
	pskIdentity uint16
	binderHash  [maxHashLen]byte // Transcript-Hash(Truncate(ClientHello))
	// sessionCtx is SHA-256 of SetSessionContext's bytes; empty: none.
	sessionCtx []byte
}

// scratchpad holds a handshake's short-lived public values. They sit in
// the Conn, not on the stack, because they pass through interfaces
// (io.Reader, hash.Hash, crypto.Signer) that would move a stack copy to the
// heap. Secrets have their own place: keyMaterial.
type scratchpad struct {
	random [32]byte
	sum    [maxHashLen]byte
	digest [64]byte
	signed [64 + 34 + maxHashLen]byte
}

// NewServer returns a connection that waits for a ClientHello.
func NewServer(cfg *Config) *Conn {
	c := &Conn{cfg: cfg, st: expectClientHello{}, maxFragment: maxPlaintext}
	c.rand = cfg.Rand
	if c.rand == nil {
		c.rand = rand.Reader
	}
	return c
}

// ConnectionState describes a connection for logs and policy.
type ConnectionState struct {
	HandshakeComplete  bool
	Version            uint16
	CipherSuite        uint16
	Group              Group
	ServerName         string
	NegotiatedProtocol string
	// DidResume: the handshake resumed a session from a ticket, without a
	// certificate (and without calling GetCertificate).
	DidResume bool
	// CertCompression is the algorithm the server's certificate was
	// compressed with (RFC 8879; CertCompressionZlib, ...), 0 for none.
	CertCompression uint16
}

// State reports what has been negotiated so far.
func (c *Conn) State() ConnectionState {
	s := ConnectionState{HandshakeComplete: c.complete, Group: c.group, NegotiatedProtocol: c.alpn}
	if c.suite != nil {
		s.Version = versionTLS13
		s.CipherSuite = c.suite.id
	}
	s.ServerName = c.hello.ServerName
	s.DidResume = c.resumed
	s.CertCompression = c.certCompression
	return s
}

// Process consumes complete records from the front of in, decrypting them in
// place, and appends anything to send to out. It returns at the first event;
// call it again with the rest of the input until it reports EventNeedMore or
// EventPending. A record that is only partly present is left in in.
//
// An error is fatal: Result.Out then ends with the alert for it, which the
// caller should send before closing. The error is an *AlertError (the alert
// sent) or a *PeerAlertError (the alert received).
func (c *Conn) Process(in, out []byte) (Result, error) {
	res := Result{Out: out}
	for {
		if c.err != nil {
			return res, c.err
		}
		if _, ok := c.st.(awaitCertificate); ok {
			res.Event = EventPending
			return res, nil
		}
		if c.cfg.LegacyHandoff && !c.legacyChecked && res.Consumed == 0 {
			legacy, more, err := c.peekLegacy(in)
			if err != nil {
				return c.fail(res, err)
			}
			if legacy || more {
				if legacy {
					res.Event = EventLegacy
				}
				return res, nil
			}
		}
		rest := in[res.Consumed:]
		if len(rest) < recordHeaderLen {
			return res, nil
		}
		typ := rest[0]
		n := int(rest[3])<<8 | int(rest[4])
		if err := c.checkHeader(typ, n); err != nil {
			return c.fail(res, err)
		}
		if len(rest) < recordHeaderLen+n {
			return res, nil
		}
		rec := rest[:recordHeaderLen+n]
		res.Consumed += len(rec)
		ev, data, err := c.readRecord(typ, rec, &res.Out)
		if err != nil {
			return c.fail(res, err)
		}
		if ev != EventNeedMore {
			res.Event, res.Data = ev, data
			return res, nil
		}
	}
}

// checkHeader refuses a record by its header alone, before its body has
// arrived, so an oversized record is never buffered (§5.1, §5.2).
func (c *Conn) checkHeader(typ uint8, n int) error {
	switch typ {
	case recordChangeCipherSpec, recordAlert, recordHandshake, recordApplicationData:
	default:
		return alertf(AlertUnexpectedMessage, "record has unknown content type")
	}
	limit := maxPlaintext
	if typ == recordApplicationData {
		limit = maxCiphertext
	}
	if n > limit {
		return alertf(AlertRecordOverflow, "record is longer than RFC 8446 §5 allows")
	}
	return nil
}

// readRecord handles one complete record.
func (c *Conn) readRecord(typ uint8, rec []byte, out *[]byte) (Event, []byte, error) {
	content := rec[recordHeaderLen:]
	if c.readClosed {
		return EventNeedMore, nil, nil // §6.1: data after close_notify is ignored
	}
	switch typ {
	case recordChangeCipherSpec:
		return EventNeedMore, nil, c.readChangeCipherSpec(content)
	case recordApplicationData:
		if !c.read.active() {
			if c.earlyData && c.hrrSent && c.skipEarly(len(content)) {
				return EventNeedMore, nil, nil
			}
			return 0, nil, alertf(AlertUnexpectedMessage, "encrypted record before the handshake keys")
		}
		inner, plain, aerr := c.read.open(rec)
		if aerr != nil {
			if c.earlyData && !c.complete && c.skipEarly(len(content)) {
				c.read.seq-- // the skipped record was never ours to count
				return EventNeedMore, nil, nil
			}
			return 0, nil, aerr
		}
		c.earlyData = false // one record opened: no more early data can follow
		return c.readContent(inner, plain, true, out)
	}
	if c.read.active() && typ == recordHandshake {
		return 0, nil, alertf(AlertUnexpectedMessage, "unprotected handshake record after keys were set")
	}
	return c.readContent(typ, content, false, out)
}

// readContent dispatches the content of a record, protected or not.
func (c *Conn) readContent(typ uint8, content []byte, protected bool, out *[]byte) (Event, []byte, error) {
	if typ != recordHandshake && c.hsOff < len(c.hs) {
		// §5.1: a message split over records admits no other record between.
		return 0, nil, alertf(AlertUnexpectedMessage, "record interleaved with a fragmented handshake message")
	}
	switch typ {
	case recordAlert:
		return c.readAlert(content)
	case recordHandshake:
		if len(content) == 0 {
			return 0, nil, alertf(AlertUnexpectedMessage, "zero-length handshake record")
		}
		return c.readHandshake(content, out)
	case recordApplicationData:
		if !c.complete {
			return 0, nil, alertf(AlertUnexpectedMessage, "application data before the handshake completed")
		}
		if len(content) == 0 {
			return EventNeedMore, nil, nil // allowed as traffic-analysis padding (§5.4)
		}
		return EventData, content, nil
	case recordChangeCipherSpec:
		// §5: a protected change_cipher_spec is unexpected_message.
		return 0, nil, alertf(AlertUnexpectedMessage, "protected change_cipher_spec record")
	}
	return 0, nil, alertf(AlertUnexpectedMessage, "record has unknown content type")
}

// readChangeCipherSpec drops the compatibility record of §5 / §D.4: once,
// between the first ClientHello and the client's Finished, value 0x01.
func (c *Conn) readChangeCipherSpec(content []byte) error {
	if _, first := c.st.(expectClientHello); first || c.complete {
		return alertf(AlertUnexpectedMessage, "change_cipher_spec outside the handshake")
	}
	if len(content) != 1 || content[0] != 1 {
		return alertf(AlertUnexpectedMessage, "change_cipher_spec with a value other than 1")
	}
	if c.ccsSeen {
		return alertf(AlertUnexpectedMessage, "second change_cipher_spec")
	}
	c.ccsSeen = true
	return nil
}

func (c *Conn) readAlert(content []byte) (Event, []byte, error) {
	if len(content) != 2 {
		// §5.1: alerts are never fragmented or coalesced.
		return 0, nil, alertf(AlertDecodeError, "alert record is not two bytes")
	}
	a := Alert(content[1])
	switch a {
	case AlertCloseNotify:
		c.readClosed = true
		return EventClosed, nil, nil
	case AlertUserCanceled:
		return EventNeedMore, nil, nil // §6.1: a close_notify should follow
	}
	// §6.2: every other alert is fatal; nothing is sent back.
	return 0, nil, &PeerAlertError{Alert: a}
}

// skipEarly drops a record of rejected 0-RTT data, as §4.2.10 requires of a
// server that does not accept early data, within a bounded budget.
func (c *Conn) skipEarly(n int) bool {
	if c.earlyBudget == 0 {
		c.earlyBudget = maxEarlySkip
	}
	if n > c.earlyBudget {
		return false
	}
	c.earlyBudget -= n
	return true
}

// Every full handshake needs two buffers from the ClientHello to the
// client's Finished: c.hs reassembles the client's messages and c.scratch
// builds our flight. Allocating them afresh made up a third of a
// handshake's garbage, so they are recycled between connections. Both hold
// handshake messages, and briefly a ticket's plaintext (resume.go), so
// they are zeroed, whole, before going back.
//
// helloBuffers' size fits a ClientHello with a post-quantum key share;
// flightBuffers' fits a server flight with an ML-KEM share and a chain of
// a few KiB. A larger need gets a buffer of its own, which is dropped
// rather than recycled.
const (
	initialHandshakeBuffer = 2048
	flightBuffer           = 8 << 10
)

var (
	helloBuffers  = sync.Pool{New: func() any { return new([initialHandshakeBuffer]byte) }}
	flightBuffers = sync.Pool{New: func() any { return new([flightBuffer]byte) }}
)

// getHelloBuffer and getFlightBuffer return an empty buffer with room for
// need bytes, recycled when it fits the pool's size.
func getHelloBuffer(need int) []byte {
	if need > initialHandshakeBuffer {
		return make([]byte, 0, need)
	}
	return helloBuffers.Get().(*[initialHandshakeBuffer]byte)[:0]
}

func getFlightBuffer(need int) []byte {
	if need > flightBuffer {
		return make([]byte, 0, need)
	}
	return flightBuffers.Get().(*[flightBuffer]byte)[:0]
}

// putBuffer zeroes b and recycles it when it is one of the pool's sizes;
// the caller must hold no other reference to it.
func putBuffer(b []byte) {
	switch cap(b) {
	case initialHandshakeBuffer:
		b = b[:initialHandshakeBuffer]
		clear(b)
		helloBuffers.Put((*[initialHandshakeBuffer]byte)(b))
	case flightBuffer:
		b = b[:flightBuffer]
		clear(b)
		flightBuffers.Put((*[flightBuffer]byte)(b))
	}
}

// releaseHandshakeBuffers gives back c.hs and c.scratch. The parsed hello
// aliases c.hs, so it goes too, but for the server name that State reports.
func (c *Conn) releaseHandshakeBuffers() {
	if c.hs != nil {
		c.hello = ClientHello{ServerName: c.hello.ServerName}
		putBuffer(c.hs)
		c.hs, c.hsOff = nil, 0
	}
	putBuffer(c.scratch)
	c.scratch = nil
}

// maxEarlySkip bounds how much rejected early data is skipped before the
// connection is refused: more than any client sends in its first flight.
const maxEarlySkip = 1 << 17

// readHandshake appends handshake content and handles each complete message.
func (c *Conn) readHandshake(content []byte, out *[]byte) (Event, []byte, error) {
	if c.hsOff == len(c.hs) {
		c.hs, c.hsOff = c.hs[:0], 0
	}
	if c.hs == nil {
		c.hs = getHelloBuffer(len(content))
	}
	c.hs = append(c.hs, content...)
	ev := EventNeedMore
	for {
		buf := c.hs[c.hsOff:]
		if len(buf) < 4 {
			break
		}
		n := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
		if n > maxHandshakeMessage {
			return 0, nil, alertf(AlertDecodeError, "handshake message longer than 64 KiB")
		}
		if len(buf) < 4+n {
			break
		}
		msg := buf[:4+n]
		c.hsOff += len(msg)
		_, hello1 := c.st.(expectClientHello)
		_, hello2 := c.st.(expectSecondClientHello)
		if (hello1 || hello2) && c.hsOff < len(c.hs) {
			// A client must wait for our answer to its hello, and its next
			// message comes under new keys (§5.1): refuse before answering.
			return 0, nil, alertf(AlertUnexpectedMessage, "handshake data follows the ClientHello")
		}
		keysBefore := c.read.aead
		next, o, err := c.st.handle(c, msg, *out)
		*out = o
		if err != nil {
			return 0, nil, err
		}
		c.st = next
		if c.read.aead != keysBefore && c.hsOff < len(c.hs) {
			// §5.1: a handshake message must not span a key change, so
			// nothing may follow the message that changed the keys.
			return 0, nil, alertf(AlertUnexpectedMessage, "handshake data after a key change in the same record")
		}
		if _, ok := next.(expectTraffic); ok && !c.complete {
			c.complete = true
			c.dropHandshakeState()
			ev = EventHandshakeDone
		}
		if _, ok := next.(awaitCertificate); ok {
			return EventPending, nil, nil
		}
	}
	if len(c.hs)-c.hsOff > 0 && len(c.hs) > maxHandshakeMessage+4 {
		return 0, nil, alertf(AlertDecodeError, "handshake message longer than 64 KiB")
	}
	return ev, nil, nil
}

// fail records a fatal error and appends the alert for it to the output.
func (c *Conn) fail(res Result, err error) (Result, error) {
	if c.err == nil {
		c.err = err
		if ae, ok := err.(*AlertError); ok {
			res.Out = c.appendAlert(res.Out, ae.Alert)
		}
		c.wipe()
	}
	return res, c.err
}

// appendAlert sends an alert, protected when write keys exist (§5.2).
func (c *Conn) appendAlert(out []byte, a Alert) []byte {
	level := byte(2) // fatal; §6: close_notify and user_canceled are warnings
	if a == AlertCloseNotify || a == AlertUserCanceled {
		level = 1
	}
	body := [2]byte{level, byte(a)}
	if c.write.active() {
		return c.write.seal(out, recordAlert, body[:])
	}
	return appendPlainRecord(out, recordAlert, body[:])
}

// Seal appends application data to out as protected records.
func (c *Conn) Seal(out, plaintext []byte) ([]byte, error) {
	if c.err != nil {
		return out, c.err
	}
	if !c.complete || c.sentClose {
		return out, errNotWritable
	}
	for len(plaintext) > 0 {
		if limit := c.cfg.keyUpdateAfter(); limit > 0 && c.sealedSinceUpdate >= limit {
			var err *AlertError
			if out, err = c.updateWriteKeys(out); err != nil {
				res, ferr := c.fail(Result{Out: out}, err)
				return res.Out, ferr
			}
		}
		n := min(len(plaintext), c.maxFragment)
		out = c.write.seal(out, recordApplicationData, plaintext[:n])
		c.sealedSinceUpdate += int64(n)
		plaintext = plaintext[n:]
	}
	return out, nil
}

// CloseNotify appends a close_notify alert (§6.1). Nothing can be sealed
// after it.
func (c *Conn) CloseNotify(out []byte) []byte {
	if c.sentClose || c.err != nil {
		return out
	}
	c.sentClose = true
	return c.appendAlert(out, AlertCloseNotify)
}

// Abort ends the handshake or connection with alert a, for reasons the
// caller found (an origin that could not be reached, a policy that blocks).
func (c *Conn) Abort(out []byte, a Alert, msg string) ([]byte, error) {
	res, err := c.fail(Result{Out: out}, alertf(a, msg))
	return res.Out, err
}

// Release drops the connection's keys and buffers. Call it once the
// connection is closed.
func (c *Conn) Release() {
	c.wipe()
	c.releaseHandshakeBuffers()
	if c.err == nil {
		c.err = errReleased
	}
}

// dropHandshakeState zeroes the secrets only the handshake needed (RFC
// 8446 §7.1: the master and handshake traffic secrets; the application
// traffic secrets stay for KeyUpdate) and lets go of its buffers, so an
// idle connection holds its traffic keys and little else.
func (c *Conn) dropHandshakeState() {
	if km := c.sched.keyMaterial; km != nil {
		clear(km.secret[:])
		clear(km.clientHS[:])
		clear(km.serverHS[:])
		clear(km.finKey[:])
		clear(km.finWant[:])
	}
	putBuffer(c.scratch)
	c.scratch = nil
	if c.hsOff == len(c.hs) {
		c.releaseHandshakeBuffers()
	}
	c.transcript = nil
}

// wipe destroys the connection's keys; it is final.
func (c *Conn) wipe() {
	c.read.wipe()
	c.write.wipe()
	c.freeKeyMaterial()
	clear(c.hs)
	clear(c.scratch)
}

// allocKeyMaterial takes the block that will hold this connection's
// secrets: from Config.Memory when set, else from the Go heap.
func (c *Conn) allocKeyMaterial() *AlertError {
	if c.sched.keyMaterial != nil {
		return nil
	}
	if c.cfg.Memory == nil {
		c.sched.keyMaterial = new(keyMaterial)
		return nil
	}
	b, err := c.cfg.Memory.Alloc(keyMaterialSize)
	if err != nil {
		// The memory for keys is bounded on purpose; past it we refuse
		// handshakes rather than put keys on the Go heap.
		return alertf(AlertInternalError, "no memory for key material: "+err.Error())
	}
	c.keyBlock = b
	c.sched.keyMaterial = (*keyMaterial)(unsafe.Pointer(unsafe.SliceData(b)))
	return nil
}

func (c *Conn) freeKeyMaterial() {
	km := c.sched.keyMaterial
	if km == nil {
		return
	}
	c.sched.keyMaterial = nil
	if c.keyBlock == nil {
		*km = keyMaterial{}
		return
	}
	// Free zeroes the block before it can be handed out again.
	_ = c.cfg.Memory.Free(c.keyBlock)
	c.keyBlock = nil
}

var keyMaterialSize = int(unsafe.Sizeof(keyMaterial{}))

var errReleased = &AlertError{Alert: AlertInternalError, Msg: "connection was released"}

var errNotWritable = &AlertError{Alert: AlertInternalError, Msg: "connection is not ready for application data"}
