package tlstest

import (
	"encoding/hex"
	"testing"
)

// Values of RFC 8448 §3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
const (
	rfc8448ServerHSSecret  = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
	rfc8448ServerHSKey     = "3fce516009c21727d0f2e4e86ee403bc"
	rfc8448ServerHSIV      = "5d313eb2671276ee13000b30"
	rfc8448ClientHSSecret  = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
	rfc8448ClientFinished  = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"
	rfc8448ClientFinRecord = "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1caeacab6867d726c40546"
	rfc8448ServerHello     = "160303005a020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
