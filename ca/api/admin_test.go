package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/ca/api"
)

func TestAdminAuth(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not bearer", "Basic dGVzdDp0ZXN0", http.StatusUnauthorized},
		{"empty bearer", "Bearer ", http.StatusUnauthorized},
		{"wrong token", "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"wrong case", "Bearer " + strings.ToUpper(testToken), http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme is case-insensitive", "bearer " + testToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/admin/v1/orgs", "/admin/v1/root"} {
				req, _ := http.NewRequest(http.MethodGet, ca.adminURL+path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("GET %s: status %d, want %d (%s)", path, resp.StatusCode, tc.want, body)
				}
				if tc.want == http.StatusUnauthorized {
					if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
						t.Errorf("WWW-Authenticate %q, want a Bearer challenge", h)
					}
					if !strings.Contains(string(body), `"error"`) {
						t.Errorf("401 body %q has no error message", body)
					}
				}
			}
		})
	}
	// An unknown admin path is no map of the API without the token.
	if status, _ := ca.do(t, http.MethodGet, "/admin/v1/nothing", "", nil, nil); status != http.StatusUnauthorized {
		t.Errorf("unknown admin path without token: %d, want 401", status)
	}
	// Metrics are open: they count requests and hold no secret.
	if status, _ := ca.do(t, http.MethodGet, "/metrics", "", nil, nil); status != http.StatusOK {
		t.Errorf("/metrics: %d", status)
	}
}

func TestAdminOrgs(t *testing.T) {
	ca := newTestCA(t)
	ctx := context.Background()
	o, err := ca.admin.CreateOrg(ctx, api.CreateOrgRequest{ID: "acme", Name: "Acme Corp"})
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "acme" || o.Name != "Acme Corp" || o.PrivateOnly || o.FailMode != "tunnel" {
		t.Errorf("created %+v", o)
	}
	if _, err := ca.admin.CreateOrg(ctx, api.CreateOrgRequest{ID: "beta", PrivateOnly: true, FailMode: "block"}); err != nil {
		t.Fatal(err)
	}
	orgs, err := ca.admin.Orgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 2 {
		t.Fatalf("listed %d orgs, want 2: %+v", len(orgs), orgs)
	}
	got, err := ca.admin.Org(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "beta" || !got.PrivateOnly || got.FailMode != "block" || len(got.Intermediates) != 0 {
		t.Errorf("show beta: %+v", got)
	}

	in, err := ca.admin.IssueIntermediate(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if in.State != "active" || in.Serial == "" || !strings.Contains(in.CertificatePEM, "BEGIN CERTIFICATE") || in.Issuer == "" {
		t.Errorf("issued %+v", in)
	}
	got, err = ca.admin.Org(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Intermediates) != 1 || got.Intermediates[0].ID != in.ID {
		t.Errorf("acme's intermediates: %+v", got.Intermediates)
	}

	upd, err := ca.admin.SetPrivateOnly(ctx, "acme", true)
	if err != nil || !upd.PrivateOnly {
		t.Fatalf("set private-only: %+v, %v", upd, err)
	}
	got, _ = ca.admin.Org(ctx, "acme")
	if !got.PrivateOnly {
		t.Error("private-only did not stick")
	}

	rot, err := ca.admin.Rotate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if rot.ID == in.ID || rot.KeyID == in.KeyID || rot.State != "active" {
		t.Errorf("rotation gave %+v after %+v", rot, in)
	}
	got, _ = ca.admin.Org(ctx, "acme")
	states := map[string]string{}
	for _, i := range got.Intermediates {
		states[i.ID] = i.State
	}
	if states[in.ID] != "retired" || states[rot.ID] != "active" {
		t.Errorf("after rotation: %v", states)
	}

	csr, err := ca.admin.RequestCSR(ctx, "beta", "rsa-2048")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csr.CSRPEM, "BEGIN CERTIFICATE REQUEST") || csr.IntermediateID == "" {
		t.Errorf("csr: %+v", csr)
	}

	root, err := ca.admin.Root(ctx)
	if err != nil || !bytes.Contains(root, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("root: %q, %v", root, err)
	}
	if len(ca.audit(t, "org.created")) != 2 {
		t.Error("org creation is not audited")
	}
}

// TestAdminErrors checks that a refusal carries the right status and a
// message that says what to fix.
func TestAdminErrors(t *testing.T) {
	ca := newTestCA(t)
	if _, err := ca.admin.CreateOrg(context.Background(), api.CreateOrgRequest{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	big := `{"id":"x","name":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		msg                      string // a piece of the message
	}{
		{"bad id", "POST", "/admin/v1/orgs", `{"id":"Not OK"}`, 400, "lowercase letters"},
		{"duplicate", "POST", "/admin/v1/orgs", `{"id":"acme"}`, 409, "already exists"},
		{"unknown org", "GET", "/admin/v1/orgs/nope", ``, 404, `no organisation "nope"`},
		{"unknown org action", "POST", "/admin/v1/orgs/nope/intermediate", `{}`, 404, `no organisation "nope"`},
		{"bad JSON", "POST", "/admin/v1/orgs", `{"id":`, 400, "JSON"},
		{"not JSON", "POST", "/admin/v1/orgs", `id=acme`, 400, "not valid JSON"},
		{"not an object", "POST", "/admin/v1/orgs", `["acme"]`, 400, "JSON object"},
		{"wrong type", "POST", "/admin/v1/orgs", `{"id":"x","private_only":"yes"}`, 400, `"private_only"`},
		{"unknown field", "POST", "/admin/v1/orgs", `{"id":"x","colour":"red"}`, 400, `unknown field "colour"`},
		{"two objects", "POST", "/admin/v1/orgs", `{"id":"x"}{"id":"y"}`, 400, "more than one"},
		{"empty body", "POST", "/admin/v1/orgs", ``, 400, "empty"},
		{"body over 1 MiB", "POST", "/admin/v1/orgs", big, 413, "larger than"},
		{"bad fail mode", "POST", "/admin/v1/orgs", `{"id":"x","fail_mode":"open"}`, 400, "fail_mode"},
		{"bad algorithm", "POST", "/admin/v1/orgs/acme/intermediate", `{"algorithm":"dsa"}`, 400, "unknown key algorithm"},
		{"patch nothing", "PATCH", "/admin/v1/orgs/acme", `{}`, 400, "private_only"},
		{"rotate without intermediate", "POST", "/admin/v1/orgs/acme/rotate", ``, 404, "no active intermediate"},
		{"bad serial", "POST", "/admin/v1/orgs/acme/revoke", `{"serial":"xyz"}`, 400, "hex"},
		{"no serial", "POST", "/admin/v1/orgs/acme/revoke", `{"reason":1}`, 400, "serial"},
		{"bad reason", "POST", "/admin/v1/orgs/acme/revoke", `{"serial":"0a","reason":7}`, 400, "CRLReason"},
		{"upload without PEM", "POST", "/admin/v1/orgs/acme/upload", `{"certificate_pem":"hello","chain_pem":""}`, 400, "certificate_pem"},
		{"enrol without CSR", "POST", "/admin/v1/edges", `{"csr_pem":""}`, 400, "CERTIFICATE REQUEST"},
		{"enrol for unknown org", "POST", "/admin/v1/edges", `{"org":"nope","csr_pem":"` + strings.ReplaceAll(testCSR(t), "\n", `\n`) + `"}`, 404, "nope"},
		{"bad audit limit", "GET", "/admin/v1/audit?limit=0", ``, 400, "limit"},
		{"bad audit after", "GET", "/admin/v1/audit?after=x", ``, 400, "after"},
		{"unknown endpoint", "GET", "/admin/v1/nothing", ``, 404, "no admin endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e api.ErrorBody
			status, _ := ca.do(t, tc.method, tc.path, testToken, strings.NewReader(tc.body), &e)
			if status != tc.want || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s %s: %d %q, want %d and a message with %q", tc.method, tc.path, status, e.Error, tc.want, tc.msg)
			}
		})
	}
	// The client hands the API's message and status on.
	_, err := ca.admin.CreateOrg(context.Background(), api.CreateOrgRequest{ID: "acme"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 409 || !strings.Contains(ae.Error(), `"acme" already exists`) {
		t.Errorf("client error %v", err)
	}
}
