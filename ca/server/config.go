package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the CA's configuration file, in YAML:
//
//	data_dir: ./data                  # created 0700 by `ca init`
//	store:
//	  driver: sqlite                  # or postgres
//	  path: ./data/ca.db              # sqlite; default <data_dir>/ca.db
//	  dsn: postgres://...             # postgres
//	password:                         # the CA password: one of these, or
//	  file: /etc/lucid/ca-password    # neither, to be prompted on a terminal
//	  env: LUCID_CA_PASSWORD
//	admin_token_file: ./data/admin-token   # default <data_dir>/admin-token
//	listen:
//	  admin: 127.0.0.1:8445
//	  keys: 127.0.0.1:8444
//	  public: 127.0.0.1:8080
//	admin_tls:                        # optional: serve the admin API over TLS
//	  cert_file: admin.pem
//	  key_file: admin-key.pem
//	public_url: http://ca.example     # where clients reach CRLs; default
//	                                  # http:// + the public listener's address
//	hostnames: [localhost, 127.0.0.1, ::1]  # names in the key API's certificate
//	allow_core_dumps: false           # leave `ca serve` dumpable and traceable (debugging,
//	                                  # core tests); by default PR_SET_DUMPABLE is 0
//	kdf:                              # Argon2id cost for a NEW vault only
//	  memory_kib: 65536
//	  time: 3
//	  threads: 4
//
// Relative paths are relative to the folder of the configuration file.
type Config struct {
	DataDir        string         `yaml:"data_dir"`
	Store          StoreConfig    `yaml:"store"`
	Password       PasswordConfig `yaml:"password"`
	AdminTokenFile string         `yaml:"admin_token_file"`
	Listen         ListenConfig   `yaml:"listen"`
	AdminTLS       TLSFiles       `yaml:"admin_tls"`
	PublicURL      string         `yaml:"public_url"`
	Hostnames      []string       `yaml:"hostnames"`
	KDF            KDFConfig      `yaml:"kdf"`
	// AllowCoreDumps leaves the serving CA dumpable (internal/nodump).
	AllowCoreDumps bool `yaml:"allow_core_dumps"`
}

// StoreConfig says where the CA's state lives.
type StoreConfig struct {
	Driver string `yaml:"driver"` // "sqlite" (default) or "postgres"
	Path   string `yaml:"path"`
	DSN    string `yaml:"dsn"`
}

// PasswordConfig says where the CA password comes from. With neither set
// the CA prompts for it when its standard input is a terminal.
type PasswordConfig struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// ListenConfig holds the three listeners' addresses.
type ListenConfig struct {
	Admin  string `yaml:"admin"`
	Keys   string `yaml:"keys"`
	Public string `yaml:"public"`
}

// TLSFiles is a certificate chain and its key, in PEM files.
type TLSFiles struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// KDFConfig sets the Argon2id cost of a new vault; zero fields take
// keyseal's defaults. An existing vault keeps the parameters it was made
// with, and keyseal refuses any below its minimum.
type KDFConfig struct {
	MemoryKiB uint32 `yaml:"memory_kib"`
	Time      uint32 `yaml:"time"`
	Threads   uint8  `yaml:"threads"`
}

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// LoadConfig reads the configuration file at path, fills in defaults and
// checks it.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.normalize(filepath.Dir(path)); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// normalize fills in defaults, makes relative paths relative to dir and
// checks what can be checked without touching anything.
func (c *Config) normalize(dir string) error {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	c.DataDir = rel(c.DataDir)
	switch c.Store.Driver {
	case "", DriverSQLite:
		c.Store.Driver = DriverSQLite
		c.Store.Path = rel(c.Store.Path)
		if c.Store.Path == "" {
			c.Store.Path = filepath.Join(c.DataDir, "ca.db")
		}
	case DriverPostgres:
		if c.Store.DSN == "" {
			return errors.New("store.dsn: give the PostgreSQL connection string for driver postgres")
		}
	default:
		return fmt.Errorf("store.driver %q: use %q or %q", c.Store.Driver, DriverSQLite, DriverPostgres)
	}
	if c.Password.File != "" && c.Password.Env != "" {
		return errors.New("password: set file or env, not both")
	}
	c.Password.File = rel(c.Password.File)
	c.AdminTokenFile = rel(c.AdminTokenFile)
	if c.AdminTokenFile == "" {
		c.AdminTokenFile = filepath.Join(c.DataDir, "admin-token")
	}
	if c.Listen.Admin == "" {
		c.Listen.Admin = "127.0.0.1:8445"
	}
	if c.Listen.Keys == "" {
		c.Listen.Keys = "127.0.0.1:8444"
	}
	if c.Listen.Public == "" {
		c.Listen.Public = "127.0.0.1:8080"
	}
	for name, addr := range map[string]string{"admin": c.Listen.Admin, "keys": c.Listen.Keys, "public": c.Listen.Public} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("listen.%s %q: give host:port", name, addr)
		}
	}
	if (c.AdminTLS.CertFile == "") != (c.AdminTLS.KeyFile == "") {
		return errors.New("admin_tls: cert_file and key_file go together")
	}
	c.AdminTLS.CertFile, c.AdminTLS.KeyFile = rel(c.AdminTLS.CertFile), rel(c.AdminTLS.KeyFile)
	// An empty public_url is filled in at start from the public
	// listener's address, which is only known then for port 0.
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("public_url %q: give an http:// or https:// URL", c.PublicURL)
	}
	if len(c.Hostnames) == 0 {
		c.Hostnames = []string{"localhost", "127.0.0.1", "::1"}
	}
	return nil
}

// AdminURL is where a client on this host reaches the admin API: the
// listen address, with an unspecified host (all interfaces) replaced by
// loopback.
func (c *Config) AdminURL() string {
	host, port, _ := net.SplitHostPort(c.Listen.Admin)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	scheme := "http"
	if c.AdminTLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
