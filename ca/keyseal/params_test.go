package keyseal

import (
	"strings"
	"testing"
)

func TestParamsString(t *testing.T) {
	p := Params{Time: 3, MemoryKiB: 65536, Threads: 4}
	for i := range p.Salt {
		p.Salt[i] = byte(i)
	}
	const want = "argon2id$v=19$m=65536,t=3,p=4$AAECAwQFBgcICQoLDA0ODw"
	if got := p.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
	got, err := ParseParams(want)
	if err != nil {
		t.Fatalf("ParseParams: %v", err)
	}
	if got != p {
		t.Fatalf("ParseParams(%q) = %+v, want %+v", want, got, p)
	}
}

func TestDefaultParams(t *testing.T) {
	p, err := DefaultParams()
	if err != nil {
		t.Fatal(err)
	}
	if p.Time != 3 || p.MemoryKiB != 64<<10 || p.Threads != 4 {
		t.Errorf("DefaultParams() = t=%d m=%d p=%d, want RFC 9106's t=3 m=65536 p=4", p.Time, p.MemoryKiB, p.Threads)
	}
	q, err := DefaultParams()
	if err != nil {
		t.Fatal(err)
	}
	if p.Salt == q.Salt {
		t.Error("two DefaultParams share a salt")
	}
	got, err := ParseParams(p.String())
	if err != nil {
		t.Fatalf("ParseParams(%q): %v", p, err)
	}
	if got != p {
		t.Errorf("round trip changed %+v to %+v", p, got)
	}
}

func TestParseParamsRefuses(t *testing.T) {
	const salt = "AAECAwQFBgcICQoLDA0ODw"
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "want argon2id$"},
		{"argon2i", "argon2i$v=19$m=65536,t=3,p=4$" + salt, "not argon2id"},
		{"version 16", "argon2id$v=16$m=65536,t=3,p=4$" + salt, "not v=19"},
		{"no version", "argon2id$m=65536,t=3,p=4$" + salt, "want argon2id$"},
		{"memory below 8 MiB", "argon2id$v=19$m=8191,t=3,p=4$" + salt, "m=8191"},
		{"memory above 4 GiB", "argon2id$v=19$m=4194305,t=3,p=4$" + salt, "m=4194305"},
		{"memory above 2^32", "argon2id$v=19$m=4294967296,t=3,p=4$" + salt, "below 2^32"},
		{"negative memory", "argon2id$v=19$m=-1,t=3,p=4$" + salt, "m:"},
		{"zero passes", "argon2id$v=19$m=65536,t=0,p=4$" + salt, "t=0"},
		{"17 passes", "argon2id$v=19$m=65536,t=17,p=4$" + salt, "t=17"},
		{"zero lanes", "argon2id$v=19$m=65536,t=3,p=0$" + salt, "p=0"},
		{"65 lanes", "argon2id$v=19$m=65536,t=3,p=65$" + salt, "p=65"},
		{"lanes wrapping uint8", "argon2id$v=19$m=65536,t=3,p=260$" + salt, "p=260"},
		{"costs reordered", "argon2id$v=19$t=3,m=65536,p=4$" + salt, "want m="},
		{"cost missing", "argon2id$v=19$m=65536,t=3$" + salt, "want costs m=N,t=N,p=N"},
		{"extra cost", "argon2id$v=19$m=65536,t=3,p=4,x=1$" + salt, "want costs m=N,t=N,p=N"},
		{"plus sign", "argon2id$v=19$m=65536,t=+3,p=4$" + salt, "t:"},
		{"salt 15 bytes", "argon2id$v=19$m=65536,t=3,p=4$AAECAwQFBgcICQoLDA0O", "salt is 15 bytes"},
		{"salt 17 bytes", "argon2id$v=19$m=65536,t=3,p=4$AAECAwQFBgcICQoLDA0ODxA", "salt is 17 bytes"},
		{"salt padded", "argon2id$v=19$m=65536,t=3,p=4$" + salt + "==", "salt"},
		{"salt not base64", "argon2id$v=19$m=65536,t=3,p=4$!!!!", "salt"},
		{"no salt", "argon2id$v=19$m=65536,t=3,p=4", "want argon2id$"},
		{"extra field", "argon2id$v=19$m=65536,t=3,p=4$" + salt + "$x", "want argon2id$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseParams(tt.in)
			if err == nil {
				t.Fatalf("ParseParams(%q) = %+v, want an error", tt.in, p)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// Whatever ParseParams accepts is within bounds and has one spelling.
func FuzzParseParams(f *testing.F) {
	f.Add("argon2id$v=19$m=65536,t=3,p=4$AAECAwQFBgcICQoLDA0ODw")
	f.Add("argon2id$v=19$m=8192,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("argon2id$v=19$m=4194304,t=16,p=64$/////////////////////w")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseParams(s)
		if err != nil {
			return
		}
		if err := p.validate(); err != nil {
			t.Fatalf("ParseParams(%q) accepted out-of-range params: %v", s, err)
		}
		again, err := ParseParams(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseParams(%q) = %+v does not round-trip: %v", s, p, err)
		}
	})
}
