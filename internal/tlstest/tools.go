package tlstest

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool finds a command-line client (openssl, curl, gnutls-cli) or
// skips the test, saying which; in CI (CI=true), which must have installed
// it, the test fails instead.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing: .ci/run must install it", name)
		}
		tb.Skipf("%s is not installed (make test installs it when run as root)", name)
	}
	return bin
}
