package bench

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// verifier checks server certificates against the run's roots and
// remembers the answer per chain, so that a load generator opening
// thousands of connections to a few certificates spends its CPU on
// handshakes, not on re-verifying the same chain each time (x509 chain
// building costs about as much as the client's side of a handshake).
// Failures are remembered too: a wrong certificate fails every time.
//
// Safe for concurrent use.
type verifier struct {
	roots *x509.CertPool
	cache sync.Map // verifyKey → error (nil = verified)
	size  atomic.Int64
}

// verifyCacheMax bounds the cache: past it, chains are verified each time.
const verifyCacheMax = 1 << 17

// verifyKey names a chain for a server name: the SHA-256 of the name and
// every certificate the server sent, since the verdict depends on all of
// them.
type verifyKey [sha256.Size]byte

func newVerifier(caFile string) (*verifier, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	return &verifier{roots: roots}, nil
}

// verify checks chain (leaf first) for serverName.
func (v *verifier) verify(serverName string, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	h := sha256.New()
	h.Write([]byte(serverName))
	for _, c := range chain {
		h.Write([]byte{0})
		h.Write(c.Raw)
	}
	var key verifyKey
	h.Sum(key[:0])
	if err, ok := v.cache.Load(key); ok {
		if err == nil {
			return nil
		}
		return err.(error)
	}
	opts := x509.VerifyOptions{Roots: v.roots, DNSName: serverName, Intermediates: x509.NewCertPool()}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	if v.size.Load() < verifyCacheMax {
		if _, loaded := v.cache.LoadOrStore(key, err); !loaded {
			v.size.Add(1)
		}
	}
	return err
}
