// Package keywire is the wire format of the CA's key answer: what the key
// API (ca/api) writes and the edge (ca/keyclient) reads in answer to
// GET /v1/orgs/{org}/key, with the media type [ContentType]. Both sides use
// this package and nothing else to marshal and unmarshal it.
//
// # Format
//
// An answer is three parts, back to back, with nothing after the last:
//
//	offset  length  content
//	0       4       N, the length of the metadata: an unsigned big-endian
//	                integer, 1 ≤ N ≤ MaxMetaLen
//	4       N       the metadata: one JSON object (RFC 8259), a [Meta]
//	4+N     K       the organisation's private key, PKCS #8 DER (RFC 5208),
//	                1 ≤ K ≤ MaxKeyLen
//
// K is not on the wire: the key runs to the end of the answer, which
// HTTP delimits (the CA sends Content-Length: 4+N+K, and the edge treats
// a body cut short as an error, not as a shorter key).
//
// The metadata is encoding/json's form of [Meta], fields in this order:
//
//	"org"        string, the organisation's ID
//	"key_id"     string, the key's ID in the CA's store
//	"algorithm"  string, "ecdsa-p256" or "rsa-2048"
//	"chain"      array of strings, each a DER certificate in base64 with
//	             padding (RFC 4648 section 4): the intermediate first, then
//	             what is above it up to the service root
//	"crl_url"    string, the CRL distribution point for leaves
//	"fail_mode"  string, "tunnel" or "block"
//	"not_after"  string, the intermediate's expiry in RFC 3339 with
//	             fractional seconds as Go's time.Time writes it
//
// with "<", ">" and "&" escaped as \u003c, \u003e and \u0026. A reader
// takes what encoding/json takes: field names match without regard to
// case, and fields it does not know are ignored, so a newer CA may add
// some without breaking older edges. The golden answer under testdata pins
// the bytes.
//
// # Why the key is outside the JSON
//
// The key is secret, and a JSON decoder makes copies of what it decodes
// (the string, the base64 output) on the Go heap, where nothing zeroes
// them. Kept out of the JSON, the key goes from the TLS stream straight
// into the edge's key memory.
//
// # Who owns which bytes
//
// On the CA, the caller of [Marshal] owns the key: the returned [Answer]
// holds a reference to that very slice, copies nothing, and
// [Answer.WriteTo] hands that slice to the writer; the caller wipes it once
// WriteTo has returned. What the writer does with it (net/http's buffered
// writer, crypto/tls's records) is the writer's business.
//
// On the edge, [ReadKey] reads from the reader straight into dst, memory
// the caller owns (a block of internal/secmem's zeroing slab), and returns
// a slice of dst: the package makes no copy of the key and keeps no
// reference to dst. After an error dst may hold part of a key, and the
// caller zeroes it (secmem's Free does). [Meta] never holds key bytes; it
// lives on the Go heap.
//
// # Reading an untrusted answer
//
// The answer comes from the network, so reading it is strict and bounded,
// and reports every refusal as an error naming the part that was wrong
// (those of an answer that ends early wrap [ErrTruncated]); it never
// panics. It is read in two steps, so the edge can check the metadata (is
// it the organisation it asked for, does the intermediate parse) before it
// gives the key any memory:
//
//   - [ReadMeta] reads the length, checks it against MaxMetaLen, then reads
//     at most N bytes of metadata, 4+MaxMetaLen bytes in all. What it
//     allocates follows the bytes that arrive, never the length claimed:
//     the metadata as it comes, and what encoding/json builds from it, at
//     worst about 40 bytes per byte (a chain of empty strings, a 24-byte
//     slice header for every 3 bytes), so some 10 MiB for the largest
//     answer, all of it garbage once ReadMeta returns.
//   - [ReadKey] reads the rest into dst and allocates nothing. It reads at
//     most MaxKeyLen+1 bytes: a key that fills them is too long.
//
// [Marshal] refuses what a reader would refuse, so a CA that could only
// send an answer no edge accepts fails there, with an error, instead.
package keywire
