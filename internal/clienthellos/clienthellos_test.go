package clienthellos

import "testing"

func TestCorpus(t *testing.T) {
	all := All()
	if len(all) < 10 {
		t.Fatalf("corpus holds %d hellos, want the 10 captured ones", len(all))
	}
	for _, h := range all {
		if h.Message()[0] != 1 {
			t.Errorf("%s: handshake type %d, want client_hello (1)", h.Name, h.Message()[0])
		}
	}
	if r := Record("extra-go126-p384.bin"); len(r) == 0 {
		t.Error("the P-384 hello is missing")
	}
}
