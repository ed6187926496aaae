// Package h2bridge inspects HTTP/2 per stream between a client and an
// origin, sans-IO: the edge hands it each side's decrypted bytes and writes
// back what it appends, on the connection's event loop. The bridge never
// reads a socket, starts a goroutine or blocks.
//
// It is an HTTP/2 server toward the client and an HTTP/2 client toward the
// origin (RFC 9113), each side with its own SETTINGS, HPACK contexts and
// flow-control windows. Every request stream is decoded, checked against
// §8.2/§8.3 and judged before any of it reaches the origin; the streams
// allowed are re-encoded for the origin's HPACK context and keep the
// client's stream numbers (gaps are allowed, §5.1.1), so a stream is known
// by one ID on both sides.
//
// Frames are parsed and written here rather than through http2.Framer: the
// Framer reads from an io.Reader (the blocking model) and keeps the last
// frame's plaintext in buffers the bridge could not wipe. The frame types,
// flags, error codes and setting IDs are http2's, and header blocks go
// through golang.org/x/net/http2/hpack.
//
// Memory per connection is bounded: the bridge holds DATA only within the
// windows it advertised (Config.MaxBuffered for both sides together), one
// partial frame per side, and one header block per side no larger than
// Config.MaxHeaderListSize. A Bridge is owned by one goroutine (the loop of
// its connection); none of its methods is safe for concurrent use.
package h2bridge
