package api

import (
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
)

func (a *admin) createOrg(w http.ResponseWriter, r *http.Request) error {
	var req CreateOrgRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	o, err := a.auth.CreateOrg(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/orgs/"+o.ID)
	writeJSON(w, http.StatusCreated, orgView(o, nil))
	return nil
}

func (a *admin) listOrgs(w http.ResponseWriter, r *http.Request) error {
	orgs, err := a.auth.Orgs(r.Context())
	if err != nil {
		return err
	}
	out := make([]Org, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, orgView(o, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *admin) showOrg(w http.ResponseWriter, r *http.Request) error {
	v, err := a.auth.Org(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orgView(v.Org, v.Intermediates))
	return nil
}

func (a *admin) updateOrg(w http.ResponseWriter, r *http.Request) error {
	var req UpdateOrgRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.PrivateOnly == nil {
		return badRequest(`nothing to change: send {"private_only": true} or false`)
	}
	o, err := a.auth.SetPrivateOnly(r.Context(), r.PathValue("id"), *req.PrivateOnly)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, orgView(o, nil))
	return nil
}

func (a *admin) issueIntermediate(w http.ResponseWriter, r *http.Request) error {
	var req AlgorithmRequest
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	in, err := a.auth.IssueIntermediate(r.Context(), r.PathValue("id"), req.Algorithm)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, intermediateView(in))
	return nil
}

func (a *admin) requestCSR(w http.ResponseWriter, r *http.Request) error {
	var req AlgorithmRequest
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	in, err := a.auth.RequestCSR(r.Context(), r.PathValue("id"), req.Algorithm)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, CSRResponse{CSRPEM: intermediateView(in).CSRPEM, IntermediateID: in.ID})
	return nil
}

func (a *admin) uploadIntermediate(w http.ResponseWriter, r *http.Request) error {
	var req UploadRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	certs, err := pemBlocks(req.CertificatePEM, "certificate_pem", "CERTIFICATE")
	if err != nil {
		return err
	}
	if len(certs) != 1 {
		return badRequest("certificate_pem holds %d certificates: send the intermediate alone and what is above it in chain_pem", len(certs))
	}
	chain, err := pemBlocks(req.ChainPEM, "chain_pem", "CERTIFICATE")
	if err != nil {
		return err
	}
	in, err := a.auth.UploadIntermediate(r.Context(), r.PathValue("id"), certs[0], chain)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, intermediateView(in))
	return nil
}

func (a *admin) rotate(w http.ResponseWriter, r *http.Request) error {
	var req struct{}
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	in, err := a.auth.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, intermediateView(in))
	return nil
}

func (a *admin) revoke(w http.ResponseWriter, r *http.Request) error {
	var req RevokeRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	serial, err := parseSerial(req.Serial)
	if err != nil {
		return err
	}
	org := r.PathValue("id")
	if err := a.auth.Revoke(r.Context(), org, serial, req.Reason); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Revoked{Org: org, Serial: serial.Text(16), Reason: req.Reason})
	return nil
}

func (a *admin) revokeIntermediate(w http.ResponseWriter, r *http.Request) error {
	var req RevokeIntermediateRequest
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	org := r.PathValue("id")
	if err := a.auth.RevokeIntermediate(r.Context(), org, req.Reason); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Revoked{Org: org, Reason: req.Reason})
	return nil
}

// parseSerial reads a certificate serial in hex, as tools print it: with
// or without a 0x prefix or colons between bytes.
func parseSerial(s string) (*big.Int, error) {
	h := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), ":", "")
	if h == "" {
		return nil, badRequest(`give the certificate's serial in hex in "serial"`)
	}
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) > 20 {
		return nil, badRequest("serial %q is not a certificate serial: give at most 20 bytes in hex", s)
	}
	return new(big.Int).SetBytes(b), nil
}

// pemBlocks decodes every PEM block of type typ in s, the value of field.
func pemBlocks(s, field, typ string) ([][]byte, error) {
	var out [][]byte
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != typ {
			return nil, badRequest("%s holds a %q PEM block: send only %q blocks", field, b.Type, typ)
		}
		out = append(out, b.Bytes)
	}
	if len(out) == 0 {
		return nil, badRequest("%s holds no PEM %q block", field, typ)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, badRequest("%s has text after its last PEM block that is not PEM: send PEM only", field)
	}
	return out, nil
}
