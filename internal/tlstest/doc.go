// Package tlstest is what the TLS tests of several packages need to look at
// TLS from the outside, as net/http/httptest is for HTTP: a record parser,
// a ClientHello that can be taken apart and put back together wrong on
// purpose, a TLS 1.3 record layer built from a crypto/tls key log (so a test
// can read and write the encrypted records of a handshake that a real client
// drives), capture of a crypto/tls ClientHello, and a puppet client whose
// flight the test forwards by hand.
//
// It is written apart from tlsmitm's own record layer and key schedule, so
// that a test checks one against the other rather than against itself.
//
// Only tests import it (tests of tlsmitm, engine and the applications);
// nothing that ships should. It imports no package of this module, so
// tlsmitm's in-package tests can use it without an import cycle.
package tlstest
