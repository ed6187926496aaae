package tlstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// helloRetryRandom is the Random of a HelloRetryRequest, SHA-256 of
// "HelloRetryRequest" (RFC 8446 §4.1.3).
var helloRetryRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// ServerHellos is what a TLS 1.3 server chose, read from its plaintext
// ServerHello and the HelloRetryRequest before it, if any.
type ServerHellos struct {
	HRR      bool   // a HelloRetryRequest came first
	HRRGroup uint16 // the group the HelloRetryRequest asked for
	Suite    uint16
	Group    uint16 // key_share group of the (final) ServerHello
	Version  uint16 // supported_versions of the final ServerHello
}

// ParseServerHellos reads the plaintext start of a server byte stream: an
// optional HelloRetryRequest, then the ServerHello. It stops at the first
// protected record and fails on a plaintext alert.
func ParseServerHellos(raw []byte) (ServerHellos, error) {
	var info ServerHellos
	recs, _ := ParseRecords(raw)
	var hs []byte
	for _, r := range recs {
		if r.Type == RecordApplicationData {
			break
		}
		if r.Type == RecordAlert {
			return info, fmt.Errorf("plaintext alert % x before ServerHello", r.Body)
		}
		if r.Type != RecordHandshake {
			continue
		}
		hs = append(hs, r.Body...)
		for len(hs) >= 4 {
			n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if len(hs) < 4+n {
				break
			}
			msg := hs[4 : 4+n]
			typ := hs[0]
			hs = hs[4+n:]
			if typ != 2 {
				return info, fmt.Errorf("unexpected plaintext handshake message type %d", typ)
			}
			sh, err := parseServerHello(msg)
			if err != nil {
				return info, err
			}
			if sh.retry {
				info.HRR = true
				info.HRRGroup = sh.group
				continue
			}
			info.Suite, info.Group, info.Version = sh.suite, sh.group, sh.version
			return info, nil
		}
	}
	return info, errors.New("no ServerHello found")
}

type serverHello struct {
	retry                 bool // it is a HelloRetryRequest
	suite, group, version uint16
}

// parseServerHello reads one ServerHello body (RFC 8446 §4.1.3).
func parseServerHello(msg []byte) (serverHello, error) {
	var sh serverHello
	if len(msg) < 2+32+1 {
		return sh, errors.New("short ServerHello")
	}
	sh.retry = bytes.Equal(msg[2:34], helloRetryRandom)
	p := msg[34:]
	sidLen := int(p[0])
	if len(p) < 1+sidLen+3+2 {
		return sh, errors.New("short ServerHello")
	}
	p = p[1+sidLen:]
	sh.suite = binary.BigEndian.Uint16(p)
	p = p[3:] // the suite and legacy_compression_method
	extLen := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) != extLen {
		return sh, errors.New("ServerHello extension length mismatch")
	}
	for len(p) >= 4 {
		et := binary.BigEndian.Uint16(p)
		el := int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+el {
			return sh, errors.New("truncated ServerHello extension")
		}
		ed := p[4 : 4+el]
		p = p[4+el:]
		switch et {
		case 0x0033: // key_share
			if len(ed) >= 2 {
				sh.group = binary.BigEndian.Uint16(ed)
			}
		case 0x002b: // supported_versions
			if len(ed) >= 2 {
				sh.version = binary.BigEndian.Uint16(ed)
			}
		}
	}
	return sh, nil
}
