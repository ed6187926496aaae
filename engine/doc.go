// Package engine runs Lucid's connections on gnet event loops: one loop per
// core, each connection on one loop for life, its TLS state driven by
// tlsmitm's sans-IO server without a goroutine of its own. It holds what
// its two applications share — the loops and their zeroing slabs
// (loop.go), starting and stopping gnet (run.go, listen.go), the base of
// every connection with its deadline and how it closes (conn.go), the
// bridge that hands TLS 1.2 clients to crypto/tls (legacy.go) and the
// shared counters (metrics.go) — and the applications sit beside it:
// engine/terminate (`edge terminate`) and engine/proxy (the inspecting
// proxy).
//
// # One inspected connection, step by step
//
// The steps of DESIGN.md's data path, each with the file that does it.
// Paths are relative to the repository; a proxy connection is a shell
// (engine/proxy/conn.go) that hands each event to the phase it is in, and
// each phase is a type of its own.
//
//  1. Accept: gnet accepts on one of the loops (SO_REUSEPORT; run.go); the
//     proxy's handler makes the connection, with the loop's state from
//     loop.go (engine/proxy/handler.go, OnOpen; engine/proxy/conn.go,
//     newConn).
//  2. Learn the destination: the CONNECT line (or a plain http:// request)
//     is parsed by internal/httphead, the client authenticated and the
//     target put to policy (engine/proxy/connect.go, awaitRequest); a
//     refusal is answered with internal/httphead/errorpage.go.
//  3. Peek the ClientHello: tlsmitm parses it once and parks the
//     handshake (tlsmitm/handshake.go; engine/proxy/hello.go, awaitHello).
//  4. Decide again on the SNI: block, bypass into a tunnel
//     (engine/proxy/tunnel.go, tunnelling), or go on (engine/proxy/hello.go,
//     arrived).
//  5. Upstream handshake, off the loop: the org's key (ca/keyclient), the
//     origin's TCP connection (origin/dial.go) and its TLS handshake with a
//     ClientHello mirrored from the client's (origin/mirror.go,
//     origin/handshake.go), its chain verified (origin/verify.go,
//     origin/verifycache.go), all started by engine/proxy/origin.go
//     (awaitOrigin, prepare). The result comes back to the connection
//     through its inbox (engine/proxy/inbox.go).
//  6. Leaf certificate: what the leaf stands for is chosen
//     (engine/proxy/origin.go, chooseLeaf; certcache/standin.go) and taken
//     from the loop's cache or minted (certcache/cache.go,
//     certcache/mint.go).
//  7. Client handshake: the parked handshake goes on with the leaf or
//     resumes (engine/proxy/clienttls.go for TLS 1.3 on the loop,
//     engine/proxy/clienttls12.go for TLS 1.2 through legacy.go), and
//     completes (engine/proxy/handshake.go, handshaking).
//  8. Relay: decrypted requests are checked, admitted with room for
//     their lines in the loop's access-log buffer and logged with their
//     responses (engine/proxy/inspect.go, engine/proxy/accesslog.go), and
//     forwarded (engine/proxy/relay.go, relaying) through the origin's
//     link, which bounds what waits either way (engine/proxy/link.go); an
//     origin that could not be used gets the 502 page instead
//     (engine/proxy/errorpage.go, answering).
//  9. Close: close_notify, the write side shut once the output has gone,
//     input drained (engine/proxy/closing.go; conn.go, Drain), and the
//     log's last lines written (engine/proxy/conn.go, closed).
//
// # Who touches what
//
// Everything a connection owns is touched on its loop only. Work that
// blocks (the key, the origin, a mint, crypto/tls for TLS 1.2, reading and
// writing the origin's socket) runs on goroutines, and each such goroutine
// says so in its doc; its result comes back as an event addressed to the
// phase that asked, so a connection that closed or moved on never sees
// it (engine/proxy/inbox.go).
package engine
