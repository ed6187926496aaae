package tlsmitm

import "unsafe"

// Handshake message types (RFC 8446 §4).
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEndOfEarlyData      uint8 = 5
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeCertificateRequest  uint8 = 13
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254
)

// Extension types (RFC 8446 §4.2 and the RFCs named beside them).
const (
	extServerName          uint16 = 0  // RFC 6066 §3
	extSupportedGroups     uint16 = 10 // RFC 8446 §4.2.7
	extSignatureAlgorithms uint16 = 13 // RFC 8446 §4.2.3
	extALPN                uint16 = 16 // RFC 7301
	extRecordSizeLimit     uint16 = 28 // RFC 8449
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extCookie              uint16 = 44
	extPSKModes            uint16 = 45
	extKeyShare            uint16 = 51
)

const (
	versionTLS12 uint16 = 0x0303
	versionTLS13 uint16 = 0x0304
)

// KeyShare is one entry of the client's key_share extension.
type KeyShare struct {
	Group Group
	Data  []byte
}

// ClientHello is a parsed ClientHello. Byte slices alias Raw. GREASE values
// (RFC 8701) are kept where they appear, so a fingerprint of the hello can
// be rebuilt from it.
type ClientHello struct {
	// Raw is the whole handshake message, 4-byte header included.
	Raw                []byte
	LegacyVersion      uint16
	Random             []byte
	SessionID          []byte
	CipherSuites       []uint16
	CompressionMethods []byte
	// Extensions lists extension types in the order the client sent them.
	Extensions        []uint16
	ServerName        string
	ALPNProtocols     []string
	SupportedVersions []uint16
	Groups            []Group
	KeyShares         []KeyShare
	// KeyShareSent is true when the key_share extension was present, even if
	// it held no share (a client may ask for a HelloRetryRequest that way).
	KeyShareSent     bool
	SignatureSchemes []uint16
	PSKModes         []uint8
	EarlyData        bool
	// RecordSizeLimit is the client's record_size_limit, 0 when absent.
	RecordSizeLimit uint16
	// PSKIdentities and PSKBinders are the pre_shared_key extension
	// (RFC 8446 §4.2.11), one binder per identity; nil when absent.
	PSKIdentities []PSKIdentity
	PSKBinders    [][]byte
	// pskBindersLen is the length of the binders list at the end of Raw,
	// its 2-byte length included: what Truncate(ClientHello) drops.
	pskBindersLen int
	pskIDBuf      [2]PSKIdentity
	pskBinderBuf  [2][]byte
	// CertCompression lists the certificate compression algorithms the
	// client accepts (RFC 8879 compress_certificate), nil when absent.
	CertCompression []uint16

	// Fixed backing arrays keep a typical hello free of heap allocations;
	// a larger hello spills over into ordinary slices.
	suitesBuf [48]uint16
	extBuf    [32]uint16
	groupsBuf [16]Group
	sharesBuf [4]KeyShare
	sigsBuf   [32]uint16
	versBuf   [8]uint16
	alpnBuf   [4]string
	compBuf   [4]uint16
}

// ParseClientHello parses a ClientHello handshake message (header included).
// The returned value aliases msg.
func ParseClientHello(msg []byte) (*ClientHello, error) {
	ch := new(ClientHello)
	if err := ch.parse(msg); err != nil {
		return nil, err
	}
	return ch, nil
}

// Clone returns a deep copy of ch that shares no memory with it, for a
// holder that outlives what ch points into: the hello of Conn.Hello and
// Conn.LegacyHello lives in the Conn, and the bytes of the former in a
// pooled buffer that goes back (zeroed) once the handshake moves on or
// the Conn is released. Clone copies; it does not parse again. The copy's
// byte slices are copies of their own, in one array with the copy's Raw,
// not views of it.
func (ch *ClientHello) Clone() *ClientHello {
	c := new(ClientHello)
	*c = *ch // scalars, strings and the fixed backing arrays
	// The byte slices are disjoint parts of Raw: twice its length holds Raw
	// and all of them, so one allocation serves.
	arena := make([]byte, 0, 2*len(ch.Raw))
	own := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		arena = append(arena, b...)
		return arena[len(arena)-len(b) : len(arena) : len(arena)]
	}
	c.CipherSuites = cloneInto(c.suitesBuf[:0], ch.CipherSuites)
	c.Extensions = cloneInto(c.extBuf[:0], ch.Extensions)
	c.ALPNProtocols = cloneInto(c.alpnBuf[:0], ch.ALPNProtocols)
	c.SupportedVersions = cloneInto(c.versBuf[:0], ch.SupportedVersions)
	c.Groups = cloneInto(c.groupsBuf[:0], ch.Groups)
	c.SignatureSchemes = cloneInto(c.sigsBuf[:0], ch.SignatureSchemes)
	c.CertCompression = cloneInto(c.compBuf[:0], ch.CertCompression)
	c.KeyShares = cloneInto(c.sharesBuf[:0], ch.KeyShares)
	c.PSKIdentities = cloneInto(c.pskIDBuf[:0], ch.PSKIdentities)
	c.PSKBinders = cloneInto(c.pskBinderBuf[:0], ch.PSKBinders)
	c.eachBytes(func(b *[]byte) { *b = own(*b) })
	return c
}

// rebase points ch's byte slices, parsed from from, at the same bytes in
// to, which holds what from held: the parse of from then stands for a
// parse of to, without parsing again. It reports false, changing nothing,
// when a slice does not lie inside from.
func (ch *ClientHello) rebase(from, to []byte) bool {
	if len(from) != len(to) || len(from) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(from)))
	offset := func(b []byte) (int, bool) {
		off := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - base)
		return off, b == nil || (off >= 0 && off+len(b) <= len(from))
	}
	inside := true
	ch.eachBytes(func(b *[]byte) {
		_, ok := offset(*b)
		inside = inside && ok
	})
	if !inside {
		return false
	}
	ch.eachBytes(func(b *[]byte) {
		if *b != nil {
			off, _ := offset(*b)
			*b = to[off : off+len(*b) : off+len(*b)]
		}
	})
	return true
}

// eachBytes calls f with every byte slice of ch that parse points into
// the message.
func (ch *ClientHello) eachBytes(f func(*[]byte)) {
	f(&ch.Raw)
	f(&ch.Random)
	f(&ch.SessionID)
	f(&ch.CompressionMethods)
	f(&ch.PSKModes)
	for i := range ch.KeyShares {
		f(&ch.KeyShares[i].Data)
	}
	for i := range ch.PSKIdentities {
		f(&ch.PSKIdentities[i].Identity)
	}
	for i := range ch.PSKBinders {
		f(&ch.PSKBinders[i])
	}
}

// cloneInto copies s into buf's array, where parse would have put it, or
// into a fresh one when it does not fit; nil stays nil, since callers tell
// an absent extension from an empty one.
func cloneInto[T any](buf, s []T) []T {
	if s == nil {
		return nil
	}
	return append(buf, s...)
}

func (ch *ClientHello) parse(msg []byte) *AlertError {
	*ch = ClientHello{}
	ch.Raw = msg
	r := newReader(msg)
	if len(msg) < 4 {
		return alertf(AlertDecodeError, "ClientHello is shorter than a message header")
	}
	if r.u8() != typeClientHello {
		return alertf(AlertUnexpectedMessage, "expected a ClientHello")
	}
	body := r.vec24()
	if !r.ok || !r.empty() {
		return alertf(AlertDecodeError, "ClientHello length does not match its message")
	}
	r = newReader(body)
	ch.LegacyVersion = r.u16()
	ch.Random = r.bytes(32)
	ch.SessionID = r.vec8()
	suites := r.vec16()
	ch.CompressionMethods = r.vec8()
	if !r.ok {
		return alertf(AlertDecodeError, "ClientHello is truncated")
	}
	if len(ch.SessionID) > 32 {
		return alertf(AlertDecodeError, "ClientHello legacy_session_id is longer than 32 bytes")
	}
	if len(suites) < 2 || len(suites)%2 != 0 {
		return alertf(AlertDecodeError, "ClientHello cipher_suites has a bad length")
	}
	if len(ch.CompressionMethods) < 1 {
		return alertf(AlertDecodeError, "ClientHello offers no compression method")
	}
	ch.CipherSuites = readU16s(ch.suitesBuf[:0], suites)
	if r.empty() {
		// A hello without extensions is legal before TLS 1.3; the version
		// check refuses it later with protocol_version.
		return nil
	}
	exts := r.vec16()
	if !r.ok || !r.empty() {
		return alertf(AlertDecodeError, "ClientHello extensions have a bad length")
	}
	ch.Extensions = ch.extBuf[:0]
	er := newReader(exts)
	for !er.empty() {
		typ := er.u16()
		data := er.vec16()
		if !er.ok {
			return alertf(AlertDecodeError, "ClientHello extension is truncated")
		}
		for _, seen := range ch.Extensions {
			if seen == typ {
				// RFC 8446 §4.2: at most one extension of each type.
				return alertf(AlertIllegalParameter, "ClientHello repeats an extension")
			}
		}
		ch.Extensions = append(ch.Extensions, typ)
		if typ == extPreSharedKey && !er.empty() {
			// RFC 8446 §4.2.11: pre_shared_key must be the last extension.
			return alertf(AlertIllegalParameter, "ClientHello pre_shared_key is not the last extension")
		}
		if err := ch.parseExtension(typ, data); err != nil {
			return err
		}
	}
	return nil
}

func (ch *ClientHello) parseExtension(typ uint16, data []byte) *AlertError {
	r := newReader(data)
	switch typ {
	case extServerName:
		list := newReader(r.vec16())
		if list.empty() {
			r.fail() // RFC 6066 §3: server_name_list<1..2^16-1>
		}
		for list.ok && !list.empty() {
			nameType := list.u8()
			name := list.vec16()
			if !list.ok {
				break
			}
			if nameType != 0 {
				continue // RFC 6066 §3: unknown name types are skipped
			}
			if ch.ServerName != "" || !validHostName(name) {
				return alertf(AlertIllegalParameter, "ClientHello server_name is not one valid host name")
			}
			ch.ServerName = string(name)
		}
		r.ok = r.ok && list.ok
	case extSupportedGroups:
		v := r.vec16()
		if len(v) < 2 || len(v)%2 != 0 {
			r.fail()
		}
		ch.Groups = ch.groupsBuf[:0]
		for i := 0; i+1 < len(v); i += 2 {
			ch.Groups = append(ch.Groups, Group(uint16(v[i])<<8|uint16(v[i+1])))
		}
	case extSignatureAlgorithms:
		v := r.vec16()
		if len(v) < 2 || len(v)%2 != 0 {
			r.fail()
		}
		ch.SignatureSchemes = readU16s(ch.sigsBuf[:0], v)
	case extALPN:
		list := newReader(r.vec16())
		if list.empty() {
			r.fail()
		}
		ch.ALPNProtocols = ch.alpnBuf[:0]
		for list.ok && !list.empty() {
			p := list.vec8()
			if len(p) == 0 {
				list.fail()
				break
			}
			ch.ALPNProtocols = append(ch.ALPNProtocols, string(p))
		}
		r.ok = r.ok && list.ok
	case extSupportedVersions:
		v := r.vec8()
		if len(v) < 2 || len(v)%2 != 0 {
			r.fail()
		}
		ch.SupportedVersions = readU16s(ch.versBuf[:0], v)
	case extKeyShare:
		ch.KeyShareSent = true
		list := newReader(r.vec16())
		ch.KeyShares = ch.sharesBuf[:0]
		for list.ok && !list.empty() {
			g := Group(list.u16())
			data := list.vec16()
			if !list.ok || len(data) == 0 {
				list.fail()
				break
			}
			for _, ks := range ch.KeyShares {
				if ks.Group == g {
					// RFC 8446 §4.2.8: one share per group.
					return alertf(AlertIllegalParameter, "ClientHello key_share has two shares for one group")
				}
			}
			ch.KeyShares = append(ch.KeyShares, KeyShare{Group: g, Data: data})
		}
		r.ok = r.ok && list.ok
	case extPSKModes:
		ch.PSKModes = r.vec8()
		if len(ch.PSKModes) == 0 {
			r.fail()
		}
	case extEarlyData:
		ch.EarlyData = true
	case extPreSharedKey:
		return ch.parsePreSharedKey(data)
	case extRecordSizeLimit:
		ch.RecordSizeLimit = r.u16()
		if r.ok && ch.RecordSizeLimit < 64 {
			// RFC 8449 §4: a limit below 64 is illegal_parameter.
			return alertf(AlertIllegalParameter, "ClientHello record_size_limit is below 64")
		}
	case extCompressCertificate:
		// RFC 8879 §3: algorithms<2..2^8-2>.
		v := r.vec8()
		if len(v) < 2 || len(v)%2 != 0 {
			r.fail()
		}
		ch.CertCompression = readU16s(ch.compBuf[:0], v)
	default:
		return nil // unknown and GREASE extensions are ignored (RFC 8446 §4.2)
	}
	if !r.ok || !r.empty() {
		return alertf(AlertDecodeError, "ClientHello extension "+extensionName(typ)+" is malformed")
	}
	return nil
}

func readU16s(dst []uint16, b []byte) []uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return dst
}

// validHostName accepts what may appear in a DNS name or a client's guess
// at one: printable ASCII without spaces, at most 255 bytes.
func validHostName(name []byte) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func extensionName(typ uint16) string {
	switch typ {
	case extServerName:
		return "server_name"
	case extSupportedGroups:
		return "supported_groups"
	case extSignatureAlgorithms:
		return "signature_algorithms"
	case extALPN:
		return "application_layer_protocol_negotiation"
	case extSupportedVersions:
		return "supported_versions"
	case extKeyShare:
		return "key_share"
	case extPSKModes:
		return "psk_key_exchange_modes"
	case extEarlyData:
		return "early_data"
	case extRecordSizeLimit:
		return "record_size_limit"
	case extCompressCertificate:
		return "compress_certificate"
	}
	return "unknown"
}

// isGREASE reports whether v is one of the reserved GREASE values of RFC 8701.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }
