package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lucid-edge/lucid/internal/edgeconfig"
	"github.com/lucid-edge/lucid/internal/passhash"
)

func TestHashPassword(t *testing.T) {
	for _, in := range []string{"s3cret: with spaces\n", "s3cret: with spaces\r\n", "s3cret: with spaces"} {
		var out, errw bytes.Buffer
		if err := runHashPassword(nil, strings.NewReader(in), &out, &errw); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		line := strings.TrimSuffix(out.String(), "\n")
		if strings.Contains(line, "s3cret") || strings.Count(out.String(), "\n") != 1 {
			t.Fatalf("output %q", out.String())
		}
		// What it prints is what a configuration takes.
		cfg, err := edgeconfig.Parse([]byte("orgs: [{id: a}]\nusers: [{name: u, org: a, password_hash: '" + line + "'}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 1 { // only "ca.url: none given"
			t.Errorf("warnings %q: the default hash is called weak", cfg.Warnings)
		}
		if org, ok := cfg.Authenticate("u", "s3cret: with spaces"); !ok || org != "a" {
			t.Errorf("%q: the printed hash does not verify", in)
		}
		if _, ok := cfg.Authenticate("u", "s3cret: with spaces\n"); ok {
			t.Errorf("%q: the line ending became part of the password", in)
		}
	}
}

func TestHashPasswordRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		args     []string
		want     string
	}{
		{"password as an argument", "", []string{"hunter2"}, "never on the command line"},
		{"empty", "\n", nil, "empty"},
		{"no input", "", nil, "empty"},
		{"two lines", "one\ntwo\n", nil, "more than one line"},
		{"too long", strings.Repeat("x", 2000), nil, "longer than 1024"},
	} {
		var out bytes.Buffer
		err := runHashPassword(tc.args, strings.NewReader(tc.in), &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if _, perr := passhash.Parse(strings.TrimSpace(out.String())); perr == nil {
			t.Errorf("%s: printed a hash", tc.name)
		}
	}
}
