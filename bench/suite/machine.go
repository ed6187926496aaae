package suite

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Machine is what the report says about where it ran.
type Machine struct {
	Cores  int
	CPU    string // model name from /proc/cpuinfo
	Kernel string
	OS     string // PRETTY_NAME from /etc/os-release
}

// Version is one component's version, as its own tool reports it.
type Version struct{ Name, Version string }

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), CPU: "unknown", Kernel: "unknown", OS: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

// readVersions asks each component: the Go binaries through their build
// information, nginx, squid and OpenSSL through their -v/version output.
func readVersions(bin string) []Version {
	var vs []Version
	for _, b := range []struct{ file, name string }{
		{"edge", "Lucid edge"},
		{"gotls", "Go crypto/tls peer (bench/peers/gotls)"},
		{"goproxymitm", "goproxy peer (bench/peers/goproxymitm)"},
	} {
		info, err := buildinfo.ReadFile(filepath.Join(bin, b.file))
		if err != nil {
			vs = append(vs, Version{b.name, "not built"})
			continue
		}
		v := info.GoVersion
		for _, d := range info.Deps {
			if d.Path == "github.com/elazarl/goproxy" {
				v += ", github.com/elazarl/goproxy " + d.Version
			}
		}
		if rev := setting(info, "vcs.revision"); rev != "" && b.file == "edge" {
			v += ", commit " + rev[:min(12, len(rev))]
			if setting(info, "vcs.modified") == "true" {
				v += " (with uncommitted changes)"
			}
		}
		vs = append(vs, Version{b.name, v})
	}
	vs = append(vs,
		Version{"nginx", firstOutputLine("nginx", "-v")},
		Version{"squid", firstOutputLine("squid", "-v")},
		Version{"OpenSSL (nginx's and squid's)", opensslVersion()},
		Version{"load generator", runtime.Version() + " crypto/tls (package bench)"},
	)
	return vs
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func firstOutputLine(name string, args ...string) string {
	if _, err := exec.LookPath(name); err != nil {
		return "not installed"
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil && line == "" {
		return "unknown (" + err.Error() + ")"
	}
	return line
}

// opensslVersion asks the openssl tool, or else dpkg for the library that
// Debian's nginx and squid link.
func opensslVersion() string {
	if v := firstOutputLine("openssl", "version"); v != "not installed" {
		return v
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "libssl3").Output(); err == nil && len(out) > 0 {
		return "libssl3 " + string(out) + " (Debian package)"
	}
	return "unknown"
}
