package tlstest

import (
	"bytes"
	"encoding/hex"
	"strings"
	"sync"
)

// KeyLog collects what crypto/tls writes to Config.KeyLogWriter (the
// NSS key log format), so a test can derive the traffic keys of a
// connection it did not terminate itself. Safe for concurrent use.
type KeyLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write takes one or more lines of the log, as crypto/tls writes them.
func (k *KeyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buf.Write(p)
}

// Secret is the secret logged under label (for example
// "SERVER_HANDSHAKE_TRAFFIC_SECRET"), or nil before it is logged.
func (k *KeyLog) Secret(label string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, line := range strings.Split(k.buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == label {
			b, _ := hex.DecodeString(f[2])
			return b
		}
	}
	return nil
}
