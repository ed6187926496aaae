package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/lucid-edge/lucid/ca/api"
	"github.com/lucid-edge/lucid/ca/server"
)

// adminHTTPClient trusts, beyond the system's roots, the certificates of
// the admin API's own certificate file, so a self-signed admin certificate
// works from the CA's host.
func adminHTTPClient(cfg server.Config) (*http.Client, error) {
	if cfg.AdminTLS.CertFile == "" {
		return &http.Client{}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pemBytes, err := os.ReadFile(cfg.AdminTLS.CertFile)
	if err != nil {
		return nil, fmt.Errorf("admin_tls: %w", err)
	}
	pool.AppendCertsFromPEM(pemBytes)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return &http.Client{Transport: tr}, nil
}

// callTimeout bounds one admin call (a backup is bounded by the signal
// context only).
const callTimeout = 2 * time.Minute

func (c *cli) org(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "create":
		return c.orgCreate(ctx, args)
	case "list":
		return c.orgList(ctx, args)
	case "show":
		return c.orgShow(ctx, args)
	case "set":
		return c.orgSet(ctx, args)
	case "issue":
		return c.orgIssue(ctx, args)
	case "csr":
		return c.orgCSR(ctx, args)
	case "upload":
		return c.orgUpload(ctx, args)
	case "rotate":
		return c.orgRotate(ctx, args)
	}
	return usagef("unknown org subcommand %q", sub)
}

func (c *cli) orgCreate(ctx context.Context, args []string) error {
	fs := c.newFlags("org create")
	name := fs.String("name", "", "display `name` (default: the ID)")
	privateOnly := fs.Bool("private-only", false, "give the key to the organisation's private edges only")
	failMode := fs.String("fail-mode", "tunnel", "what edges without the key do: `tunnel` or block")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	o, err := cl.CreateOrg(ctx, api.CreateOrgRequest{ID: pos[0], Name: *name, PrivateOnly: *privateOnly, FailMode: *failMode})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created organisation %s (name %q, private-only %v, fail mode %s)\n", o.ID, o.Name, o.PrivateOnly, o.FailMode)
	fmt.Fprintf(c.stdout, "next: `ca org issue %s` for an intermediate under the service root, or `ca org csr %s -out csr.pem` to sign it with your own root\n", o.ID, o.ID)
	return nil
}

func (c *cli) orgList(ctx context.Context, args []string) error {
	fs := c.newFlags("org list")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	orgs, err := cl.Orgs(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPRIVATE-ONLY\tFAIL-MODE\tCREATED")
	for _, o := range orgs {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", o.ID, o.Name, o.PrivateOnly, o.FailMode, o.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (c *cli) orgShow(ctx context.Context, args []string) error {
	fs := c.newFlags("org show")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	o, err := cl.Org(ctx, pos[0])
	if err != nil {
		return err
	}
	c.printOrg(o)
	return nil
}

func (c *cli) printOrg(o api.Org) {
	fmt.Fprintf(c.stdout, "organisation:  %s\nname:          %s\nprivate-only:  %v\nfail mode:     %s\ncreated:       %s\n",
		o.ID, o.Name, o.PrivateOnly, o.FailMode, o.CreatedAt.Format(time.RFC3339))
	if len(o.Intermediates) == 0 {
		fmt.Fprintln(c.stdout, "intermediates: none yet")
		return
	}
	fmt.Fprintln(c.stdout, "intermediates:")
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STATE\tID\tSERIAL\tNOT-AFTER\tISSUER")
	for _, in := range o.Intermediates {
		notAfter := "-"
		if !in.NotAfter.IsZero() {
			notAfter = in.NotAfter.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", in.State, in.ID, dash(in.Serial), notAfter, dash(in.Issuer))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) orgSet(ctx context.Context, args []string) error {
	fs := c.newFlags("org set")
	privateOnly := fs.String("private-only", "", "`true` or false")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	var v bool
	switch *privateOnly {
	case "true":
		v = true
	case "false":
	default:
		return usagef("org set needs -private-only=true or -private-only=false")
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	o, err := cl.SetPrivateOnly(ctx, pos[0], v)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "organisation %s: private-only %v\n", o.ID, o.PrivateOnly)
	return nil
}

func (c *cli) orgIssue(ctx context.Context, args []string) error {
	fs := c.newFlags("org issue")
	alg := fs.String("alg", "ecdsa-p256", "key `algorithm`: ecdsa-p256 or rsa-2048")
	out := fs.String("out", "", "write the intermediate certificate (PEM) to `file`")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	in, err := cl.IssueIntermediate(ctx, pos[0], *alg)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(in.CertificatePEM), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stdout, "issued intermediate %s for %s: %s key, serial %s, valid until %s; any previous key is destroyed\n",
		in.ID, pos[0], *alg, in.Serial, in.NotAfter.Format(time.RFC3339))
	return nil
}

func (c *cli) orgCSR(ctx context.Context, args []string) error {
	fs := c.newFlags("org csr")
	alg := fs.String("alg", "ecdsa-p256", "key `algorithm`: ecdsa-p256 or rsa-2048")
	out := fs.String("out", "", "write the CSR (PEM) to `file`")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("org csr needs -out FILE for the CSR")
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.RequestCSR(ctx, pos[0], *alg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(res.CSRPEM), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote the CSR of pending intermediate %s to %s\nsign it with your root as a CA certificate, then: ca org upload %s -cert cert.pem -chain chain.pem\n",
		res.IntermediateID, *out, pos[0])
	return nil
}

func (c *cli) orgUpload(ctx context.Context, args []string) error {
	fs := c.newFlags("org upload")
	certFile := fs.String("cert", "", "the signed intermediate certificate (PEM) `file`")
	chainFile := fs.String("chain", "", "`file` of the certificates above it (PEM), its issuer first, your root last")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	if *certFile == "" || *chainFile == "" {
		return usagef("org upload needs -cert FILE and -chain FILE")
	}
	certPEM, err := os.ReadFile(*certFile)
	if err != nil {
		return err
	}
	chainPEM, err := os.ReadFile(*chainFile)
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	in, err := cl.Upload(ctx, pos[0], string(certPEM), string(chainPEM))
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "intermediate %s of %s is active: serial %s, valid until %s; the previous key is destroyed\n",
		in.ID, pos[0], in.Serial, in.NotAfter.Format(time.RFC3339))
	return nil
}

func (c *cli) orgRotate(ctx context.Context, args []string) error {
	fs := c.newFlags("org rotate")
	out := fs.String("out", "", "for an organisation that signs its own intermediate: write the new CSR to `file`")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	in, err := cl.Rotate(ctx, pos[0])
	if err != nil {
		return err
	}
	if in.State == "active" {
		fmt.Fprintf(c.stdout, "rotated %s: intermediate %s, serial %s, valid until %s; the previous key is destroyed\n",
			pos[0], in.ID, in.Serial, in.NotAfter.Format(time.RFC3339))
		return nil
	}
	if *out == "" {
		fmt.Fprint(c.stdout, in.CSRPEM)
	} else if err := os.WriteFile(*out, []byte(in.CSRPEM), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "%s signs its own intermediate: sign the new CSR (pending intermediate %s) and run `ca org upload %s`; the current key stays active until then\n",
		pos[0], in.ID, pos[0])
	return nil
}

func (c *cli) revoke(ctx context.Context, args []string) error {
	fs := c.newFlags("revoke")
	serial := fs.String("serial", "", "the certificate's serial in `hex`")
	intermediate := fs.Bool("intermediate", false, "revoke the organisation's active intermediate (on the service root's CRL)")
	reason := fs.Int("reason", 0, "RFC 5280 CRLReason `code` (0 unspecified, 1 keyCompromise, 4 superseded, 5 cessationOfOperation, ...)")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	if (*serial == "") == !*intermediate {
		return usagef("revoke needs either -serial HEX or -intermediate")
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if *intermediate {
		if _, err := cl.RevokeIntermediate(ctx, pos[0], *reason); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "revoked the active intermediate of %s (reason %d); it is on the service root's CRL\n", pos[0], *reason)
		return nil
	}
	res, err := cl.Revoke(ctx, pos[0], *serial, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "revoked serial %s of %s (reason %d); it is on the organisation's next CRL\n", res.Serial, res.Org, res.Reason)
	return nil
}

func (c *cli) edge(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "enrol", "enroll":
		return c.edgeEnrol(ctx, args)
	case "list":
		return c.edgeList(ctx, args)
	}
	return usagef("unknown edge subcommand %q", sub)
}

func (c *cli) edgeList(ctx context.Context, args []string) error {
	fs := c.newFlags("edge list")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	edges, err := cl.Edges(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENTITLEMENT\tREVOKED\tENROLLED\tCERT-SHA256")
	for _, e := range edges {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", e.ID, entitlement(e.Org), e.Revoked, e.CreatedAt.Format(time.RFC3339), e.CertSHA256)
	}
	return tw.Flush()
}

func entitlement(org string) string {
	if org == "" {
		return "public fleet"
	}
	return "private:" + org
}

func (c *cli) audit(ctx context.Context, args []string) error {
	fs := c.newFlags("audit")
	after := fs.Int64("after", 0, "show entries after sequence `number`")
	limit := fs.Int("limit", 0, "show at most `n` entries (default: all)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tORG\tKEY\tDETAIL")
	left := *limit
	for seq := *after; ; {
		page := 1000
		if *limit > 0 {
			page = min(page, left)
		}
		entries, err := cl.Audit(ctx, seq, page)
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Actor, e.Action, dash(e.Org), dash(e.KeyID), e.Detail)
			seq = e.Seq
		}
		left -= len(entries)
		if len(entries) < page || (*limit > 0 && left <= 0) {
			break
		}
	}
	return tw.Flush()
}

func (c *cli) backup(ctx context.Context, args []string) error {
	fs := c.newFlags("backup")
	out := fs.String("out", "", "write the backup (zstd) to `file`")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("backup needs -out FILE")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	// Write beside the target and rename, so a failed backup never leaves
	// a short file under the name of a good one.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := cl.Backup(ctx, tmp); err != nil {
		tmp.Close()
		return err
	}
	fi, err := tmp.Stat()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote backup %s (%d bytes): sealed keys without their data keys; restoring needs the CA password\n", *out, fi.Size())
	return nil
}

func (c *cli) root(ctx context.Context, args []string) error {
	fs := c.newFlags("root")
	out := fs.String("out", "", "write the service root (PEM) to `file` instead of standard output")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	pemBytes, err := cl.Root(ctx)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = c.stdout.Write(pemBytes)
		return err
	}
	return os.WriteFile(*out, pemBytes, 0o644)
}
