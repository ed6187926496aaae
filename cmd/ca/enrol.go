package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// edgeEnrol makes the edge's key here, on the edge's side, and sends the
// CA only a CSR: the CA never sees an edge's private key.
func (c *cli) edgeEnrol(ctx context.Context, args []string) error {
	fs := c.newFlags("edge enrol")
	org := fs.String("org", "", "enrol a private edge of organisation `ID` (default: the public fleet)")
	dir := fs.String("out", "", "`folder` for edge-key.pem, edge-cert.pem and ca-root.pem")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("edge enrol needs -out DIR")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "lucid edge"}}, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	// Write the key first, never over an existing one: that would strand
	// the edge whose certificate goes with it.
	keyPath := filepath.Join(*dir, "edge-key.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	err = writeNew(keyPath, keyPEM, 0o600)
	clear(keyPEM)
	clear(keyDER)
	if err != nil {
		return err
	}
	enrolled := false
	defer func() {
		if !enrolled {
			os.Remove(keyPath)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := cl.Enrol(ctx, *org, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})))
	if err != nil {
		return err
	}
	if err := checkIssuedFor(res.CertificatePEM, key); err != nil {
		return err
	}
	certPath, rootPath := filepath.Join(*dir, "edge-cert.pem"), filepath.Join(*dir, "ca-root.pem")
	if err := os.WriteFile(certPath, []byte(res.CertificatePEM), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(rootPath, []byte(res.RootPEM), 0o644); err != nil {
		return err
	}
	enrolled = true
	fmt.Fprintf(c.stdout, "enrolled edge %s (%s)\n  key:   %s (made here; the CA never saw it)\n  cert:  %s\n  root:  %s\n",
		res.ID, entitlement(*org), keyPath, certPath, rootPath)
	return nil
}

// checkIssuedFor checks that the CA's certificate is for our key.
func checkIssuedFor(certPEM string, key *ecdsa.PrivateKey) error {
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		return errors.New("the CA answered with no certificate")
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return fmt.Errorf("the CA's certificate does not parse: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return errors.New("the CA's certificate is not for the key made here")
	}
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists: enrol into an empty folder, or remove it first", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
