package tlstest

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

func TestExpandLabelRFC8448(t *testing.T) {
	secret := unhex(t, rfc8448ServerHSSecret)
	if got := ExpandLabel(sha256.New, secret, "key", 16); !bytes.Equal(got, unhex(t, rfc8448ServerHSKey)) {
		t.Errorf("server handshake key %x, want %s", got, rfc8448ServerHSKey)
	}
	if got := ExpandLabel(sha256.New, secret, "iv", 12); !bytes.Equal(got, unhex(t, rfc8448ServerHSIV)) {
		t.Errorf("server handshake iv %x, want %s", got, rfc8448ServerHSIV)
	}
}
