package keywire

import "time"

// ContentType is the media type of the key answer.
const ContentType = "application/vnd.lucid.orgkey"

// Meta describes an organisation's key as an edge receives it: the JSON
// part of the answer. It never holds key bytes.
type Meta struct {
	Org       string    `json:"org"`
	KeyID     string    `json:"key_id"`
	Algorithm string    `json:"algorithm"`
	Chain     [][]byte  `json:"chain"` // the intermediate first, then what is above it
	CRLURL    string    `json:"crl_url"`
	FailMode  string    `json:"fail_mode"`
	NotAfter  time.Time `json:"not_after"`
}

// Limits of the format; see the package comment for how each is enforced.
const (
	// MaxMetaLen bounds the metadata. A chain of an intermediate and the
	// root is a few KiB in base64; the bound leaves room for longer chains
	// while capping what an edge allocates for one answer.
	MaxMetaLen = 256 << 10
	// MaxKeyLen bounds the key: one byte less than a 4 KiB slab block,
	// because ReadKey tells a key that fits from one that does not by the
	// byte after it. An RSA-2048 PKCS #8 key is about 1.2 KiB.
	MaxKeyLen = 4<<10 - 1
)
