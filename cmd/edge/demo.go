package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files that `edge demo-certs` writes into its -out folder.
const (
	demoRootFile      = "demo-public-root.pem"
	demoOriginFile    = "demo-origin.pem"
	demoOriginKeyFile = "demo-origin-key.pem"
)

// demoCerts makes the certificates of `make run`'s demo origin: a demo
// "public" root (the kind of CA browsers trust, which the edge trusts
// through upstream.roots_file) and, signed by it, a server certificate for
// the demo host names. The root's key is not kept. Files that exist and
// still hold a certificate valid for a day are kept, so a second run
// changes nothing.
func demoCerts(args []string) error {
	fs := flag.NewFlagSet("demo-certs", flag.ContinueOnError)
	out := fs.String("out", "", "`folder` for "+demoRootFile+", "+demoOriginFile+" and "+demoOriginKeyFile)
	hosts := fs.String("hosts", "demo.lucid.test", "comma-separated DNS `names` of the demo origin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return errors.New("usage: edge demo-certs -out DIR [-hosts NAME,...]")
	}
	names := strings.Split(*hosts, ",")
	rootPath := filepath.Join(*out, demoRootFile)
	certPath := filepath.Join(*out, demoOriginFile)
	keyPath := filepath.Join(*out, demoOriginKeyFile)
	if demoCertsValid(rootPath, certPath, keyPath, names) {
		fmt.Printf("demo certificates: kept %s and %s\n", rootPath, certPath)
		return nil
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "Lucid demo public root", Organization: []string{"Lucid demo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return err
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"Lucid demo origin"}},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{keyPath, "PRIVATE KEY", keyDER, 0o600},
		{certPath, "CERTIFICATE", leafDER, 0o644},
		{rootPath, "CERTIFICATE", rootDER, 0o644},
	} {
		if err := writeFileAtomic(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return err
		}
	}
	fmt.Printf("demo certificates: made %s (the demo \"public\" root) and %s for %s\n", rootPath, certPath, strings.Join(names, ", "))
	return nil
}

// demoCertsValid reports whether the files hold a root, and a certificate
// for names that verifies under it for at least another day, with its key.
func demoCertsValid(rootPath, certPath, keyPath string, names []string) bool {
	root, err := readCertificate(rootPath)
	if err != nil {
		return false
	}
	leaf, err := readCertificate(certPath)
	if err != nil {
		return false
	}
	if _, err := loadCertificate(certPath, keyPath); err != nil {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	for _, name := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: time.Now().Add(24 * time.Hour)}); err != nil {
			return false
		}
	}
	return true
}

func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a reader never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
