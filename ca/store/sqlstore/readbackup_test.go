package sqlstore

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func golden(t testing.TB) string {
	b, err := os.ReadFile("testdata/backup.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadLinesRefuses(t *testing.T) {
	g := golden(t)
	lines := strings.SplitAfter(g, "\n")
	header, end := lines[0], lines[len(lines)-2]
	without := func(i int) string {
		return strings.Join(append(append([]string(nil), lines[:i]...), lines[i+1:]...), "")
	}
	replace := func(old, new string) string {
		if !strings.Contains(g, old) {
			t.Fatalf("golden backup lacks %q", old)
		}
		return strings.Replace(g, old, new, 1)
	}
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "no header"},
		{"header only", header, "no end line"},
		{"no header", without(0), "unknown field"},
		{"other format", replace(`"format":"lucid-ca-backup"`, `"format":"pg_dump"`), "not a lucid-ca-backup"},
		{"newer version", replace(`"version":1`, `"version":2`), "not a lucid-ca-backup"},
		{"no end line", strings.TrimSuffix(g, end), "no end line"},
		{"a row lost", without(3), "end line counts 11 rows, the backup has 10"},
		{"data after the end", g + `{"table":"orgs","row":{}}` + "\n", "data after the end line"},
		{"data keys", replace(`{"table":"keys"`, `{"table":"data_keys"`), "holds data keys"},
		{"unknown table", replace(`{"table":"keys"`, `{"table":"secrets"`), "unknown table"},
		{"unknown column", replace(`"algorithm":"rsa-2048"`, `"algorithm":"rsa-2048","plaintext":"AA=="`), "unknown field"},
		{"bad base64", replace(`"ciphertext":"YWNtZSBjaXBoZXJ0ZXh0"`, `"ciphertext":"!!"`), "illegal base64"},
		{"short certificate hash", replace(`"cert_sha256":"i1zE337sfTKngU7KSvBHrjOy1SNCZncVaC4ZwlsLn6o="`, `"cert_sha256":"AAAA"`), "certificate hash of 3 bytes"},
		{"second vault", replace(lines[1], lines[1]+lines[1]), "a second vault row"},
		{"two values on a line", replace(end, strings.TrimSuffix(end, "\n")+"{}\n"), "data after the JSON value"},
		{"end line with a row", replace(`{"end":{"rows":11}}`, `{"table":"orgs","end":{"rows":11}}`), "end line with a row"},
		{"line too long", header + `{"table":"audit","row":{"detail":"` + strings.Repeat("x", MaxBackupLine) + `"}}` + "\n", "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readLines(strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestReadLinesGolden(t *testing.T) {
	snap, err := readLines(strings.NewReader(golden(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Keys) != 2 || len(snap.Audit) != 2 || snap.Intermediates[0].Chain == nil || snap.Intermediates[1].Chain != nil {
		t.Fatalf("snapshot = %+v", snap)
	}
}

func TestCapReader(t *testing.T) {
	g := golden(t)
	if _, err := readLines(&capReader{r: strings.NewReader(g), left: int64(len(g))}); err != nil {
		t.Fatalf("at the cap: %v", err)
	}
	_, err := readLines(&capReader{r: strings.NewReader(g), left: int64(len(g) - 1)})
	if !errors.Is(err, errBackupTooBig) {
		t.Fatalf("past the cap: err = %v, want %v", err, errBackupTooBig)
	}
}

// FuzzReadLines feeds readLines damaged backups: it must return an error
// or a snapshot, never panic or hang.
func FuzzReadLines(f *testing.F) {
	g := golden(f)
	f.Add([]byte(g))
	for _, line := range strings.SplitAfter(g, "\n") {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := readLines(bytes.NewReader(data))
		if err == nil && snap == nil {
			t.Fatal("no snapshot and no error")
		}
	})
}
