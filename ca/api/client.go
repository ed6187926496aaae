package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls the admin API, for the ca command and tests.
type Client struct {
	// URL is the admin API's base, e.g. http://127.0.0.1:8445.
	URL   string
	Token string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Error is the admin API's refusal: its status and its message, which
// says what to fix.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Msg, e.Status) }

// CreateOrg creates an organisation.
func (c *Client) CreateOrg(ctx context.Context, req CreateOrgRequest) (Org, error) {
	var o Org
	return o, c.call(ctx, http.MethodPost, "/admin/v1/orgs", req, &o)
}

// Orgs lists the organisations.
func (c *Client) Orgs(ctx context.Context) ([]Org, error) {
	var out []Org
	return out, c.call(ctx, http.MethodGet, "/admin/v1/orgs", nil, &out)
}

// Org returns an organisation and its intermediates.
func (c *Client) Org(ctx context.Context, id string) (Org, error) {
	var o Org
	return o, c.call(ctx, http.MethodGet, orgPath(id, ""), nil, &o)
}

// SetPrivateOnly restricts an organisation's key to its private edges, or
// lifts that.
func (c *Client) SetPrivateOnly(ctx context.Context, id string, privateOnly bool) (Org, error) {
	var o Org
	return o, c.call(ctx, http.MethodPatch, orgPath(id, ""), UpdateOrgRequest{PrivateOnly: &privateOnly}, &o)
}

// IssueIntermediate issues the organisation a new intermediate under the
// service root.
func (c *Client) IssueIntermediate(ctx context.Context, id, alg string) (Intermediate, error) {
	var in Intermediate
	return in, c.call(ctx, http.MethodPost, orgPath(id, "intermediate"), AlgorithmRequest{Algorithm: alg}, &in)
}

// RequestCSR makes a new key for the organisation and returns its CSR.
func (c *Client) RequestCSR(ctx context.Context, id, alg string) (CSRResponse, error) {
	var out CSRResponse
	return out, c.call(ctx, http.MethodPost, orgPath(id, "csr"), AlgorithmRequest{Algorithm: alg}, &out)
}

// Upload gives the CA the certificate the organisation signed for its CSR.
func (c *Client) Upload(ctx context.Context, id, certPEM, chainPEM string) (Intermediate, error) {
	var in Intermediate
	return in, c.call(ctx, http.MethodPost, orgPath(id, "upload"), UploadRequest{CertificatePEM: certPEM, ChainPEM: chainPEM}, &in)
}

// Rotate gives the organisation a new key and intermediate (or a CSR for
// one, if it signs its own).
func (c *Client) Rotate(ctx context.Context, id string) (Intermediate, error) {
	var in Intermediate
	return in, c.call(ctx, http.MethodPost, orgPath(id, "rotate"), struct{}{}, &in)
}

// Revoke puts a serial on the organisation's CRL.
func (c *Client) Revoke(ctx context.Context, id, serial string, reason int) (Revoked, error) {
	var out Revoked
	return out, c.call(ctx, http.MethodPost, orgPath(id, "revoke"), RevokeRequest{Serial: serial, Reason: reason}, &out)
}

// RevokeIntermediate puts the organisation's intermediate on the service
// root's CRL.
func (c *Client) RevokeIntermediate(ctx context.Context, id string, reason int) (Revoked, error) {
	var out Revoked
	return out, c.call(ctx, http.MethodPost, orgPath(id, "revoke-intermediate"), RevokeIntermediateRequest{Reason: reason}, &out)
}

// Enrol enrols an edge by its CSR.
func (c *Client) Enrol(ctx context.Context, org, csrPEM string) (EnrolResponse, error) {
	var out EnrolResponse
	return out, c.call(ctx, http.MethodPost, "/admin/v1/edges", EnrolRequest{Org: org, CSRPEM: csrPEM}, &out)
}

// Edges lists the enrolled edges.
func (c *Client) Edges(ctx context.Context) ([]Edge, error) {
	var out []Edge
	return out, c.call(ctx, http.MethodGet, "/admin/v1/edges", nil, &out)
}

// Audit returns up to limit audit entries after seq.
func (c *Client) Audit(ctx context.Context, after int64, limit int) ([]AuditEntry, error) {
	var out []AuditEntry
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	return out, c.call(ctx, http.MethodGet, "/admin/v1/audit?"+q.Encode(), nil, &out)
}

// Backup copies the store's backup (zstd) to w.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, "/admin/v1/backup", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading the backup: %w", err)
	}
	return nil
}

// Root returns the service root certificate in PEM.
func (c *Client) Root(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/admin/v1/root", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxBody))
}

func orgPath(id, action string) string {
	p := "/admin/v1/orgs/" + url.PathEscape(id)
	if action != "" {
		p += "/" + action
	}
	return p
}

// call sends in as JSON (if not nil) and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: the answer does not decode: %w", method, path, err)
	}
	return nil
}

// do sends the request and turns any status but 2xx into an *Error.
func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(raw))
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
	}
	return nil, &Error{Status: resp.StatusCode, Msg: e.Error}
}
