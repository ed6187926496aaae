package keywire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Answer is a marshalled key answer: the encoded length and metadata, and
// the caller's key, not copied. It is valid until the caller wipes the key.
type Answer struct {
	head []byte // the 4-byte length and the JSON metadata
	key  []byte // the caller's slice
}

// Marshal encodes meta and frames it with key. It refuses a key or
// metadata outside the format's limits.
func Marshal(meta Meta, key []byte) (Answer, error) {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return Answer{}, fmt.Errorf("keywire: a key of %d bytes, want 1 to %d", len(key), MaxKeyLen)
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return Answer{}, fmt.Errorf("keywire: encoding the metadata: %w", err)
	}
	if len(js) > MaxMetaLen {
		return Answer{}, fmt.Errorf("keywire: %d bytes of metadata, over the %d-byte limit", len(js), MaxMetaLen)
	}
	head := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(js)), uint32(len(js)))
	return Answer{head: append(head, js...), key: key}, nil
}

// Len is the answer's length in bytes, for Content-Length.
func (a Answer) Len() int { return len(a.head) + len(a.key) }

// WriteTo writes the answer to w: the head, then the caller's key slice
// itself, so no copy of the key is made here.
func (a Answer) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(a.head)
	if err != nil {
		return int64(n), err
	}
	k, err := w.Write(a.key)
	return int64(n + k), err
}
