package tlsmitm

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"sync"
	"sync/atomic"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Certificate compression (RFC 8879). The server only ever compresses: it
// never parses a compressed certificate off the wire, so the only network
// input here is the client's compress_certificate extension, which
// clienthello.go parses.

// Certificate compression algorithms (RFC 8879 §7.3).
const (
	CertCompressionZlib   uint16 = 1
	CertCompressionBrotli uint16 = 2
	CertCompressionZstd   uint16 = 3
)

const (
	extCompressCertificate    uint16 = 27 // RFC 8879 §3
	typeCompressedCertificate uint8  = 25 // RFC 8879 §4
)

// DefaultCertCompression is the server's preference when
// Config.CertCompression is nil. The server chooses by its own order, not the
// client's: RFC 8879 leaves the choice to the server, every client
// decompresses a few kilobytes in microseconds whatever the algorithm, and the
// compressed chain is cached. At the levels below the three come within 1%
// of each other on a typical chain; zstd is first for its fast decoder.
var DefaultCertCompression = []uint16{CertCompressionZstd, CertCompressionBrotli, CertCompressionZlib}

// DefaultCertCompressionCacheSize bounds the process-wide cache used when
// Config.CertCompressionCache is nil.
const DefaultCertCompressionCacheSize = 1024

var defaultCertCompressionCache = NewCertCompressionCache(DefaultCertCompressionCacheSize)

func (c *Config) certCompression() []uint16 {
	if c.CertCompression != nil {
		return c.CertCompression
	}
	return DefaultCertCompression
}

func (c *Config) certCompressionCache() *CertCompressionCache {
	if c.CertCompressionCache != nil {
		return c.CertCompressionCache
	}
	return defaultCertCompressionCache
}

// chooseCertCompression returns the first algorithm of ours the client
// offers, or 0.
func chooseCertCompression(ours, offered []uint16) uint16 {
	if len(offered) == 0 {
		return 0
	}
	for _, a := range ours {
		if certCompressionSupported(a) && contains16(offered, a) {
			return a
		}
	}
	return 0
}

func certCompressionSupported(alg uint16) bool {
	return alg == CertCompressionZlib || alg == CertCompressionBrotli || alg == CertCompressionZstd
}

// compressCertificate replaces the Certificate message at flight[start:] by
// a CompressedCertificate when the client offered an algorithm we use and
// the result is smaller. It records the algorithm in c.certCompression. The
// caller adds the message, as sent, to the transcript (RFC 8879 §4).
func (c *Conn) compressCertificate(flight []byte, start int) []byte {
	c.certCompression = 0
	alg := chooseCertCompression(c.cfg.certCompression(), c.hello.CertCompression)
	if alg == 0 {
		return flight
	}
	msg := c.cfg.certCompressionCache().get(flight[start:], alg)
	if msg == nil {
		return flight
	}
	// msg is shorter than the Certificate message, so it fits in place.
	c.certCompression = alg
	return flight[:start+copy(flight[start:], msg)]
}

// CertCompressionCache holds CompressedCertificate messages by chain and
// algorithm, so that a chain is compressed once per algorithm however many
// handshakes present it. The message depends only on the chain (the request
// context is empty on the server's first flight) and the algorithm. It is
// safe for concurrent use by every event loop of a process; one cache per
// process is the intent, and the per-loop leaf cache (certcache) need not
// know about it: entries are keyed by a SHA-256 of the Certificate message,
// so a re-minted leaf is a new entry and an evicted leaf's entry ages out.
type CertCompressionCache struct {
	mu      sync.Mutex
	max     int
	entries map[certCompressionKey]*list.Element
	lru     list.List // of *certCompressionEntry, most recent first

	hits, compressions atomic.Uint64
}

type certCompressionKey struct {
	sum [sha256.Size]byte
	alg uint16
}

type certCompressionEntry struct {
	key  certCompressionKey
	once sync.Once
	msg  []byte // the CompressedCertificate message; nil: not worth sending
}

// NewCertCompressionCache returns a cache of at most size entries (one per
// chain and algorithm); size < 1 means 1.
func NewCertCompressionCache(size int) *CertCompressionCache {
	return &CertCompressionCache{max: max(size, 1), entries: make(map[certCompressionKey]*list.Element)}
}

// CertCompressionStats counts cache lookups.
type CertCompressionStats struct {
	Hits         uint64 // answered from the cache
	Compressions uint64 // chains compressed (misses)
	Entries      int
}

// Stats reports the cache's counters.
func (cc *CertCompressionCache) Stats() CertCompressionStats {
	cc.mu.Lock()
	n := cc.lru.Len()
	cc.mu.Unlock()
	return CertCompressionStats{Hits: cc.hits.Load(), Compressions: cc.compressions.Load(), Entries: n}
}

// get returns the CompressedCertificate message for the Certificate message
// cert under alg, or nil when compression does not make it smaller. The
// result is shared and must not be modified. Concurrent misses for one key
// compress once: the others wait for that result.
func (cc *CertCompressionCache) get(cert []byte, alg uint16) []byte {
	key := certCompressionKey{sum: sha256.Sum256(cert), alg: alg}
	cc.mu.Lock()
	el, ok := cc.entries[key]
	if ok {
		cc.lru.MoveToFront(el)
	} else {
		el = cc.lru.PushFront(&certCompressionEntry{key: key})
		cc.entries[key] = el
		for cc.lru.Len() > cc.max {
			old := cc.lru.Back()
			cc.lru.Remove(old)
			delete(cc.entries, old.Value.(*certCompressionEntry).key)
		}
	}
	e := el.Value.(*certCompressionEntry)
	cc.mu.Unlock()
	if ok {
		cc.hits.Add(1)
	}
	e.once.Do(func() {
		cc.compressions.Add(1)
		e.msg = compressedCertificateMessage(cert, alg)
	})
	return e.msg
}

// compressedCertificateMessage builds a CompressedCertificate message (RFC
// 8879 §4) from a Certificate message, header included. What is compressed
// is the Certificate message's body; uncompressed_length is its length, as
// BoringSSL and other clients expect. It returns nil when the result would
// not be smaller than the Certificate message or compression fails.
func compressedCertificateMessage(cert []byte, alg uint16) []byte {
	if len(cert) < 4 {
		return nil
	}
	body := cert[4:]
	out := make([]byte, 0, 4+2+3+3+len(body))
	out = append(out, typeCompressedCertificate, 0, 0, 0)
	out = putU16(out, alg)
	out = putU24(out, len(body))
	out, vec := openVec(out, 3)
	var err error
	out, err = compressCert(out, body, alg)
	if err != nil || len(out) == vec+3 || len(out) >= len(cert) {
		return nil
	}
	closeVec(out, vec, 3)
	closeVec(out, 1, 3)
	return bytes.Clone(out)
}

// Compression levels. The result is cached per chain, but a miss (each new
// leaf) runs on an event loop, so levels stop where a chain stops shrinking
// for the time spent. On a 1.5 KB leaf+intermediate (BenchmarkCompressChain,
// pooled encoders): zstd default, brotli 5 and zlib 9 each take ~0.1-0.2 ms
// to reach 70-71%; brotli 11 reaches 66% but takes ~100 ms, zstd's best 69%
// in ~20 ms, too long to stall a loop for.
const (
	zlibLevel   = zlib.BestCompression
	brotliLevel = 5
	zstdLevel   = zstd.SpeedDefault
)

// brotliWindow is 64 KiB: a chain is a few kilobytes, and a small window
// keeps the encoder's allocations small.
const brotliWindow = 16

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	// EncodeAll on a shared encoder is safe for concurrent use. No checksum:
	// the record layer already authenticates the bytes.
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstdLevel), zstd.WithEncoderCRC(false),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<17))
})

// The zlib and brotli encoders hold large tables; misses reuse them.
var zlibWriters, brotliWriters sync.Pool

// compressCert appends src compressed with alg to dst.
func compressCert(dst, src []byte, alg uint16) ([]byte, error) {
	switch alg {
	case CertCompressionZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	case CertCompressionBrotli:
		buf := bytes.NewBuffer(dst)
		w, _ := brotliWriters.Get().(*brotli.Writer)
		if w == nil {
			w = brotli.NewWriterOptions(buf, brotli.WriterOptions{Quality: brotliLevel, LGWin: brotliWindow})
		} else {
			w.Reset(buf)
		}
		defer brotliWriters.Put(w)
		if _, err := w.Write(src); err != nil {
			return dst, err
		}
		if err := w.Close(); err != nil {
			return dst, err
		}
		return buf.Bytes(), nil
	case CertCompressionZlib:
		buf := bytes.NewBuffer(dst)
		w, _ := zlibWriters.Get().(*zlib.Writer)
		if w == nil {
			var err error
			if w, err = zlib.NewWriterLevel(buf, zlibLevel); err != nil {
				return dst, err
			}
		} else {
			w.Reset(buf)
		}
		defer zlibWriters.Put(w)
		if _, err := w.Write(src); err != nil {
			return dst, err
		}
		if err := w.Close(); err != nil {
			return dst, err
		}
		return buf.Bytes(), nil
	}
	return dst, errUnknownCertCompression
}

var errUnknownCertCompression = alertf(AlertInternalError, "unknown certificate compression algorithm")
