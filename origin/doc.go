// Package origin is the origin side of an inspected connection (DESIGN.md,
// data path step 5): it dials the destination, runs the TLS handshake with
// the origin over uTLS with a ClientHello rebuilt from the client's own, so
// the origin sees the client's fingerprint, verifies the origin's chain
// and hands the result back to the caller instead of failing the
// handshake, and keeps what the connections of one proxy share: the
// upstream session cache and the cache of chains that verified. Of the
// edge's packages it is the only one that imports uTLS (the load generator
// in bench/ has a uTLS client of its own); everything it returns is typed
// with the standard library (net.Conn, x509), so its callers never name
// uTLS.
//
// The files, one concern each:
//
//   - dialer.go: Config and Dialer, what every connection of one proxy
//     shares;
//   - dial.go: the TCP connection to the destination;
//   - destcheck.go: the caller's judgement of every address dialed;
//   - tunnel.go: a bypassed destination's connection, never decrypted;
//   - handshake.go: the TLS handshake and the Session it yields;
//   - mirror.go: the uTLS ClientHello spec built from the client's hello;
//   - floor.go: the TLS floor on what the origin chooses;
//   - verify.go, verifycache.go: origin verification and its cache;
//   - sessions.go: upstream session resumption, per origin address;
//   - recordreader.go: the framing that lets the caller wait on the origin's
//     socket instead of inside uTLS.
//
// The ClientHello arrives parsed (tlsmitm parses it once, on the client's
// event loop); this package reads its fields and hands its raw bytes to
// uTLS's own fingerprinting, and never parses it again.
//
// Who calls what where: Dial and Handshake block on the network, so they
// run off the event loop, on a goroutine of the connection's, and their
// results go back to the loop (STYLE.md, gnet); each says so in its doc. A
// Dialer is safe for concurrent use by any number of such goroutines. A
// Session belongs to the one goroutine that reads it, as its fields say.
package origin
