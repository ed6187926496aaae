package tlstest

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Record content types (RFC 8446 §5.1).
const (
	RecordChangeCipherSpec = 0x14
	RecordAlert            = 0x15
	RecordHandshake        = 0x16
	RecordApplicationData  = 0x17
)

// Record is one TLS record as it goes over the wire.
type Record struct {
	Type    byte
	Version uint16 // legacy_record_version
	Body    []byte // the fragment, protected or not
}

// Bytes is the record with its 5-byte header, as sent.
func (r Record) Bytes() []byte {
	b := []byte{r.Type, byte(r.Version >> 8), byte(r.Version), byte(len(r.Body) >> 8), byte(len(r.Body))}
	return append(b, r.Body...)
}

// ParseRecords splits b into whole records; rest is what is left of a
// record that has not arrived in full. The records' bodies alias b.
func ParseRecords(b []byte) (recs []Record, rest []byte) {
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint16(b[3:5]))
		if len(b) < 5+n {
			break
		}
		recs = append(recs, Record{Type: b[0], Version: binary.BigEndian.Uint16(b[1:3]), Body: b[5 : 5+n]})
		b = b[5+n:]
	}
	return recs, b
}

// ReadRecord reads exactly one record from r.
func ReadRecord(r io.Reader) (Record, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Record{}, err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:5]))
	if _, err := io.ReadFull(r, body); err != nil {
		return Record{}, err
	}
	return Record{Type: hdr[0], Version: binary.BigEndian.Uint16(hdr[1:3]), Body: body}, nil
}

// AlertRecord is the plaintext record of one fatal alert with the given
// code (RFC 8446 §6), as a server sends it before it has keys.
func AlertRecord(code byte) []byte {
	return []byte{RecordAlert, 0x03, 0x03, 0x00, 0x02, 0x02, code}
}

// HandshakeRecord wraps a handshake message body in its 4-byte header
// (RFC 8446 §4) and one plaintext record.
func HandshakeRecord(recordVersion uint16, msgType byte, body []byte) []byte {
	return HandshakeRecordDeclaring(recordVersion, msgType, body, len(body))
}

// HandshakeRecordDeclaring is HandshakeRecord with a message header that
// declares a body of n bytes, whatever len(body) is: for malformed messages.
func HandshakeRecordDeclaring(recordVersion uint16, msgType byte, body []byte, n int) []byte {
	msg := []byte{msgType, byte(n >> 16), byte(n >> 8), byte(n)}
	msg = append(msg, body...)
	return Record{Type: RecordHandshake, Version: recordVersion, Body: msg}.Bytes()
}

// Summarize renders a byte stream for a failure message: short streams as
// hex, long ones as a list of records (type and length, plus the body of
// small records and the message type of handshake records).
func Summarize(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("[% x]", b)
	}
	recs, rest := ParseRecords(b)
	var parts []string
	for _, r := range recs {
		name := map[byte]string{RecordChangeCipherSpec: "CCS", RecordAlert: "alert", RecordHandshake: "handshake", RecordApplicationData: "appdata"}[r.Type]
		if name == "" {
			name = fmt.Sprintf("type%#02x", r.Type)
		}
		if len(r.Body) <= 8 {
			parts = append(parts, fmt.Sprintf("%s(%d: % x)", name, len(r.Body), r.Body))
		} else if r.Type == RecordHandshake {
			parts = append(parts, fmt.Sprintf("%s(%d, msg type %d)", name, len(r.Body), r.Body[0]))
		} else {
			parts = append(parts, fmt.Sprintf("%s(%d)", name, len(r.Body)))
		}
	}
	if len(rest) > 0 {
		parts = append(parts, fmt.Sprintf("+%d bytes partial", len(rest)))
	}
	return fmt.Sprintf("%d bytes: %s", len(b), strings.Join(parts, " "))
}
