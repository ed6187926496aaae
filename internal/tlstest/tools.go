package tlstest

import (
	"os"
	"os/exec"
	"testing"
)

// NeedTool finds a command a test runs (openssl, curl, gnutls-cli, nginx,
// squid) or skips the test, saying which and how to install it; in CI
// (CI=true), whose .ci/run installs it, the test fails instead. make test
// lists every skip at its end.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is missing: .ci/run must install it", name)
		}
		tb.Skipf("%s is not installed: sudo ./scripts/test-deps.sh installs what the tests need", name)
	}
	return bin
}
