package tlstest

import "fmt"

// Decrypted is one record of a server stream after DecryptServerStream.
type Decrypted struct {
	Type    byte   // the inner content type
	Content []byte // padding removed
	Key     string // what opened it: "plaintext" (nothing), "handshake" or "application"
}

// DecryptServerStream decrypts a TLS 1.3 server byte stream, as the client
// received it, with the secrets of kl: plaintext records pass through,
// protected ones are opened under the server handshake key up to and
// including the server's Finished, then under the server application key
// (RFC 8446 §7.1, App. A). A stream that ends inside a record is an error,
// returned with what came before.
func DecryptServerStream(raw []byte, kl *KeyLog, suite uint16) ([]Decrypted, error) {
	hsKey, err := NewTrafficKey(suite, kl.Secret("SERVER_HANDSHAKE_TRAFFIC_SECRET"))
	if err != nil {
		return nil, fmt.Errorf("server handshake key: %w", err)
	}
	appKey, err := NewTrafficKey(suite, kl.Secret("SERVER_TRAFFIC_SECRET_0"))
	if err != nil {
		return nil, fmt.Errorf("server application key: %w", err)
	}
	recs, rest := ParseRecords(raw)
	var out []Decrypted
	inHandshake := true
	var hsBuf []byte
	for _, r := range recs {
		if r.Type != RecordApplicationData {
			out = append(out, Decrypted{Type: r.Type, Content: r.Body, Key: "plaintext"})
			continue
		}
		if inHandshake {
			typ, content, err := hsKey.Open(r)
			if err != nil {
				return out, fmt.Errorf("open record under server handshake key: %w", err)
			}
			out = append(out, Decrypted{Type: typ, Content: content, Key: "handshake"})
			if typ == RecordHandshake {
				hsBuf = append(hsBuf, content...)
				for len(hsBuf) >= 4 {
					n := int(hsBuf[1])<<16 | int(hsBuf[2])<<8 | int(hsBuf[3])
					if len(hsBuf) < 4+n {
						break
					}
					if hsBuf[0] == 20 { // finished
						inHandshake = false
					}
					hsBuf = hsBuf[4+n:]
				}
			}
			continue
		}
		typ, content, err := appKey.Open(r)
		if err != nil {
			return out, fmt.Errorf("open record under server application key: %w", err)
		}
		out = append(out, Decrypted{Type: typ, Content: content, Key: "application"})
	}
	if len(rest) > 0 {
		return out, fmt.Errorf("%d trailing bytes of a partial record", len(rest))
	}
	return out, nil
}
