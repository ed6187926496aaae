package tlsmitm

import (
	"fmt"
	"testing"
)

// BenchmarkCompressChain measures one cache miss per algorithm: compressing
// a leaf+intermediate chain's Certificate message. ratio is compressed
// message bytes over plain message bytes.
func BenchmarkCompressChain(b *testing.B) {
	plain := appendCertificate(nil, realisticChain().cert.Chain)
	for _, alg := range DefaultCertCompression {
		b.Run(certCompressionName(alg), func(b *testing.B) {
			b.ReportAllocs()
			var msg []byte
			for b.Loop() {
				msg = compressedCertificateMessage(plain, alg)
			}
			if msg == nil {
				b.Fatal("did not compress")
			}
			b.ReportMetric(float64(len(msg))/float64(len(plain)), "ratio")
			b.ReportMetric(float64(len(msg)), "bytes")
		})
	}
}

// BenchmarkCompressChainCached is the per-handshake cost once the chain is
// cached: a SHA-256 of the Certificate message and an LRU lookup.
func BenchmarkCompressChainCached(b *testing.B) {
	plain := appendCertificate(nil, realisticChain().cert.Chain)
	cache := NewCertCompressionCache(16)
	for _, alg := range DefaultCertCompression {
		b.Run(certCompressionName(alg), func(b *testing.B) {
			b.ReportAllocs()
			cache.get(plain, alg)
			for b.Loop() {
				if cache.get(plain, alg) == nil {
					b.Fatal("did not compress")
				}
			}
		})
	}
}

func certCompressionName(alg uint16) string {
	switch alg {
	case CertCompressionZlib:
		return "zlib"
	case CertCompressionBrotli:
		return "brotli"
	case CertCompressionZstd:
		return "zstd"
	}
	return fmt.Sprint(alg)
}
