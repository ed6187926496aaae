package keywire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTruncated is wrapped by the errors of an answer that ends before its
// framing says it does.
var ErrTruncated = errors.New("keywire: the answer ends early")

// ReadMeta reads the length and the metadata from r, leaving r at the
// key. It reads at most 4+MaxMetaLen bytes. What it allocates follows the
// bytes that arrive, not the length the answer claims: a length alone
// costs nothing.
func ReadMeta(r io.Reader) (Meta, error) {
	var prefix [4]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return Meta{}, partError(err, "its 4-byte length")
	}
	n := binary.BigEndian.Uint32(prefix[:])
	if n == 0 || n > MaxMetaLen {
		return Meta{}, fmt.Errorf("keywire: metadata of %d bytes, want 1 to %d", n, MaxMetaLen)
	}
	head, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err == nil && len(head) < int(n) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return Meta{}, partError(err, fmt.Sprintf("its %d bytes of metadata", n))
	}
	// Through a pointer, so that a null, which encoding/json takes for an
	// empty struct, shows.
	var m *Meta
	if err := json.Unmarshal(head, &m); err != nil {
		return Meta{}, fmt.Errorf("keywire: metadata: %w", err)
	}
	if m == nil {
		return Meta{}, errors.New("keywire: metadata is null, want an object")
	}
	return *m, nil
}

// partError says what went wrong reading a part of the answer: an end of
// the stream is ErrTruncated, anything else is the reader's error.
func partError(err error, part string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: inside %s", ErrTruncated, part)
	}
	return fmt.Errorf("keywire: reading %s: %w", part, err)
}

// ReadKey reads the key, the rest of r after ReadMeta, into dst and
// returns dst[:K]. It reads at most MaxKeyLen+1 bytes and allocates
// nothing unless it fails. A key is too long when it fills dst (or
// MaxKeyLen+1 bytes of it): dst needs room for the longest key it may take
// and one byte more. After an error dst may hold part of a key: zero it.
//
// Only io.EOF ends the key. An HTTP body cut short before its
// Content-Length reports io.ErrUnexpectedEOF, which is an error here, not
// the end of a shorter key.
func ReadKey(r io.Reader, dst []byte) ([]byte, error) {
	buf := dst[:min(len(dst), MaxKeyLen+1)]
	if len(buf) < 2 {
		return nil, fmt.Errorf("keywire: %d bytes of memory for the key, want at least 2", len(buf))
	}
	n := 0
	for {
		k, err := r.Read(buf[n:])
		n += k
		if n == len(buf) {
			return nil, fmt.Errorf("keywire: a key longer than %d bytes", len(buf)-1)
		}
		switch {
		case err == nil:
		case err == io.EOF && n == 0:
			return nil, fmt.Errorf("%w: before the key", ErrTruncated)
		case err == io.EOF:
			return buf[:n], nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("%w: inside the key (%w)", ErrTruncated, err)
		default:
			return nil, fmt.Errorf("keywire: reading the key: %w", err)
		}
	}
}
