package proxy

import (
	"slices"
	"testing"
)

// recordingSides notes each send to the client.
type recordingSides struct{ sent []string }

func (r *recordingSides) toOrigin(*conn, []byte) bool { return true }
func (r *recordingSides) toClient(_ *conn, b []byte) bool {
	r.sent = append(r.sent, string(b))
	return true
}
func (r *recordingSides) lastWord(*conn, []byte) {}

// TestSendRunJoinsAdjacentRuns: consecutive runs of one read go out as
// one send; a gap, or bytes from another buffer, end the run, and the
// order of what the client gets is the order the framer passed it on.
func TestSendRunJoinsAdjacentRuns(t *testing.T) {
	read := []byte("HEAD1body1HEAD2body2-skipped-HEAD3")
	other := []byte("assembled")
	s := &recordingSides{}
	r := sendRun{read: read}
	for _, p := range [][]byte{read[0:5], read[5:10], read[10:15], read[15:20], other, read[29:34]} {
		if !r.add(nil, s, p) {
			t.Fatal("add failed")
		}
	}
	r.add(nil, s, nil)
	if !r.flush(nil, s) || !r.flush(nil, s) {
		t.Fatal("flush failed")
	}
	want := []string{"HEAD1body1HEAD2body2", "assembled", "HEAD3"}
	if !slices.Equal(s.sent, want) {
		t.Errorf("sent %q, want %q", s.sent, want)
	}
	s.sent = nil
	r = sendRun{read: read}
	r.add(nil, s, read[0:5])
	r.add(nil, s, read[10:15]) // a gap: what the framer held back stays out
	r.flush(nil, s)
	if want := []string{"HEAD1", "HEAD2"}; !slices.Equal(s.sent, want) {
		t.Errorf("sent %q, want %q", s.sent, want)
	}
}
