package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lucid-edge/lucid/ca/authority"
)

// FuzzRequestBody feeds arbitrary bodies through the admin API's request
// parsing: every refusal must be a 4xx with a message, never a panic or a
// 5xx.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"acme","name":"Acme","private_only":true,"fail_mode":"block"}`,
		`{"serial":"0a:bc","reason":1}`,
		`{"org":"","csr_pem":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"certificate_pem":"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----","chain_pem":""}`,
		`{"private_only":null}`, `[]`, `{}{}`, `{"id":`, ``, `"\ud800"`, `{"reason":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			if s := authority.Status(err); s < 400 || s > 499 || err.Error() == "" {
				t.Fatalf("%s: status %d for %q", what, s, err)
			}
		}
		for _, v := range []any{new(CreateOrgRequest), new(UpdateOrgRequest), new(AlgorithmRequest), new(UploadRequest),
			new(RevokeRequest), new(RevokeIntermediateRequest), new(EnrolRequest)} {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			check("readJSON", readJSON(httptest.NewRecorder(), r, v, false))
		}
		_, err := parseSerial(string(body))
		check("parseSerial", err)
		_, err = pemBlocks(string(body), "field", "CERTIFICATE")
		check("pemBlocks", err)
	})
}
