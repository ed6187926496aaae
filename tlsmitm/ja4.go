package tlsmitm

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// JA4 returns the JA4 fingerprint of a ClientHello received over TCP, as
// FoxIO specifies it (github.com/FoxIO-LLC/ja4, technical_details/JA4.md):
//
//	t13d1516h2_8daaf6152771_e5627efa2ab1
//
// reads: TLS over TCP; version 1.3 (the highest supported_versions value,
// else legacy_version); d for an SNI (i without); 15 cipher suites; 16
// extensions (both counts capped at 99); h2, the first and last characters
// of the first ALPN value (00 without ALPN).
//
// Both hashes are the first 12 hex digits of a SHA-256 over comma-separated
// 4-digit hex values: cipher suites sorted; extensions sorted without SNI
// (0000) and ALPN (0010), then "_" and the signature algorithms in the
// order sent. GREASE values (RFC 8701) are skipped everywhere.
func JA4(ch *ClientHello) string {
	var out [36]byte
	b := append(out[:0], 't')
	b = append(b, ja4Version(ch)...)
	if slices.Contains(ch.Extensions, extServerName) {
		b = append(b, 'd')
	} else {
		b = append(b, 'i')
	}
	b = appendJA4Count(b, countNonGREASE(ch.CipherSuites))
	b = appendJA4Count(b, countNonGREASE(ch.Extensions))
	b = appendJA4ALPN(b, ch.ALPNProtocols)
	b = append(b, '_')
	b = appendJA4Ciphers(b, ch.CipherSuites)
	b = append(b, '_')
	b = appendJA4Extensions(b, ch.Extensions, ch.SignatureSchemes)
	return string(b)
}

func ja4Version(ch *ClientHello) string {
	v := ch.LegacyVersion
	var highest uint16
	for _, sv := range ch.SupportedVersions {
		if !isGREASE(sv) {
			highest = max(highest, sv)
		}
	}
	if highest != 0 {
		v = highest
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func countNonGREASE(vals []uint16) int {
	n := 0
	for _, v := range vals {
		if !isGREASE(v) {
			n++
		}
	}
	return n
}

func appendJA4Count(b []byte, n int) []byte {
	n = min(n, 99)
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// appendJA4ALPN appends the first and last characters of the first ALPN
// value, or, when either is not an ASCII letter or digit, the first and last
// digits of the value in hex.
func appendJA4ALPN(b []byte, protos []string) []byte {
	if len(protos) == 0 || protos[0] == "" {
		return append(b, "00"...)
	}
	p := protos[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return append(b, first, last)
	}
	const digits = "0123456789abcdef"
	return append(b, digits[first>>4], digits[last&0x0f])
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func appendJA4Ciphers(b []byte, suites []uint16) []byte {
	var buf [64]uint16
	sorted := appendSortedNonGREASE(buf[:0], suites, nil)
	if len(sorted) == 0 {
		return append(b, "000000000000"...)
	}
	var text [512]byte
	return appendHash12(b, appendHexList(text[:0], sorted))
}

func appendJA4Extensions(b []byte, exts, sigs []uint16) []byte {
	var buf [64]uint16
	sorted := appendSortedNonGREASE(buf[:0], exts, func(e uint16) bool {
		return e == extServerName || e == extALPN
	})
	if len(sorted) == 0 {
		return append(b, "000000000000"...)
	}
	var text [512]byte
	s := appendHexList(text[:0], sorted)
	if countNonGREASE(sigs) > 0 {
		s = append(s, '_')
		s = appendHexList(s, sigs)
	}
	return appendHash12(b, s)
}

// appendSortedNonGREASE appends the values that are neither GREASE nor
// skipped, sorted.
func appendSortedNonGREASE(dst, vals []uint16, skip func(uint16) bool) []uint16 {
	for _, v := range vals {
		if !isGREASE(v) && (skip == nil || !skip(v)) {
			dst = append(dst, v)
		}
	}
	slices.Sort(dst)
	return dst
}

// appendHexList appends the non-GREASE values as comma-separated 4-digit
// lower-case hex.
func appendHexList(b []byte, vals []uint16) []byte {
	sep := false
	for _, v := range vals {
		if isGREASE(v) {
			continue
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = hex.AppendEncode(b, []byte{byte(v >> 8), byte(v)})
	}
	return b
}

func appendHash12(b, text []byte) []byte {
	sum := sha256.Sum256(text)
	return hex.AppendEncode(b, sum[:6])
}
