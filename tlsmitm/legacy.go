package tlsmitm

import "slices"

// extExtendedMasterSecret is RFC 7627's extension, which a TLS 1.2 client
// must offer to be handed off.
const extExtendedMasterSecret uint16 = 23

// peekLegacy looks, without consuming, at the first ClientHello at the
// front of in (Config.LegacyHandoff). more: the hello is not complete yet,
// and Process consumes nothing until it is. legacy: it offers TLS 1.2 and
// not TLS 1.3. With neither, the decision is final (c.legacyChecked) and
// Process goes on as usual, so a malformed or TLS 1.3 hello, or one that
// offers neither version, meets the ordinary checks and alerts. A TLS 1.2
// hello without extended_master_secret is refused with handshake_failure.
func (c *Conn) peekLegacy(in []byte) (legacy, more bool, err error) {
	if c.legacy {
		return true, false, nil
	}
	if _, ok := c.st.(expectClientHello); !ok || len(c.hs) > c.hsOff {
		c.legacyChecked = true
		return false, false, nil
	}
	var msg []byte
	for rest := in; ; {
		if len(rest) < recordHeaderLen {
			return false, true, nil
		}
		n := int(rest[3])<<8 | int(rest[4])
		if rest[0] != recordHandshake || n == 0 || n > maxPlaintext {
			c.legacyChecked = true
			return false, false, nil
		}
		if len(rest) < recordHeaderLen+n {
			return false, true, nil
		}
		frag := rest[recordHeaderLen : recordHeaderLen+n]
		rest = rest[recordHeaderLen+n:]
		if msg == nil && len(frag) >= 4 {
			msg = frag // usually the whole hello is in the first record
		} else {
			msg = append(msg[:len(msg):len(msg)], frag...)
		}
		if len(msg) < 4 {
			continue
		}
		size := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
		if size-4 > maxHandshakeMessage {
			c.legacyChecked = true
			return false, false, nil
		}
		if len(msg) >= size {
			msg = msg[:size]
			break
		}
	}
	// The Conn's own hello takes this parse: a TLS 1.3 hello's handshake
	// starts from it (c.peeked, expectClientHello) instead of parsing the
	// same bytes again.
	ch := &c.hello
	if err := ch.parse(msg); err != nil {
		c.legacyChecked = true
		return false, false, nil
	}
	if !offersOnlyTLS12(ch) {
		c.legacyChecked = true
		c.peeked = msg
		return false, false, nil
	}
	if !slices.Contains(ch.Extensions, extExtendedMasterSecret) {
		// The hand-off requires RFC 7627's extended master secret.
		c.legacyChecked = true
		return false, false, alertf(AlertHandshakeFailure, "TLS 1.2 ClientHello without extended_master_secret")
	}
	// msg may alias the caller's input, which is gone once it discards
	// it: LegacyHello keeps a copy of this parse (not a second parse).
	c.hello = *ch.Clone()
	c.legacy = true
	return true, false, nil
}

// LegacyHello returns the ClientHello that made Process report
// EventLegacy, nil before that. It does not alias the input, so it stays
// valid after the caller discards the hello's bytes: an inspecting proxy
// reads its SNI and ALPN, fingerprints it and mirrors it upstream before
// the TLS 1.2 server it hands the connection to has started.
func (c *Conn) LegacyHello() *ClientHello {
	if !c.legacy {
		return nil
	}
	return &c.hello
}

// offersOnlyTLS12 reports whether a hello can lead to TLS 1.2 and not to
// TLS 1.3: supported_versions lists 0x0303 and not 0x0304, or, without
// that extension, legacy_version is at least 0x0303 (RFC 5246 §E.1).
func offersOnlyTLS12(ch *ClientHello) bool {
	if ch.SupportedVersions == nil {
		return ch.LegacyVersion >= versionTLS12
	}
	return contains16(ch.SupportedVersions, versionTLS12) && !contains16(ch.SupportedVersions, versionTLS13)
}
