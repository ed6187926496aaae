package tlstest

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

func TestParseRecordsOnSplitInput(t *testing.T) {
	stream := Record{Type: RecordHandshake, Version: 0x0303, Body: []byte{1, 2, 3}}.Bytes()
	stream = append(stream, Record{Type: RecordApplicationData, Version: 0x0303, Body: bytes.Repeat([]byte{7}, 300)}.Bytes()...)
	stream = append(stream, Record{Type: RecordAlert, Version: 0x0303}.Bytes()...)
	ends := []int{8, 8 + 305, 8 + 305 + 5} // where each record ends
	for n := 0; n <= len(stream); n++ {
		recs, rest := ParseRecords(stream[:n])
		whole := 0
		for _, e := range ends {
			if e <= n {
				whole++
			}
		}
		if len(recs) != whole {
			t.Fatalf("%d bytes: %d records, want %d", n, len(recs), whole)
		}
		parsed := 0
		for _, r := range recs {
			parsed += len(r.Bytes())
		}
		if parsed+len(rest) != n || !bytes.Equal(rest, stream[parsed:n]) {
			t.Fatalf("%d bytes: %d parsed and %d left over", n, parsed, len(rest))
		}
	}
	recs, _ := ParseRecords(stream)
	if recs[1].Type != RecordApplicationData || len(recs[1].Body) != 300 || recs[2].Type != RecordAlert || len(recs[2].Body) != 0 {
		t.Errorf("records %+v", recs)
	}
}

func TestReadRecord(t *testing.T) {
	want := Record{Type: RecordHandshake, Version: 0x0301, Body: []byte("hello")}
	r := iotest.OneByteReader(bytes.NewReader(append(want.Bytes(), want.Bytes()[:3]...)))
	got, err := ReadRecord(r)
	if err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("ReadRecord = %+v, %v; want %+v", got, err, want)
	}
	if _, err := ReadRecord(r); err != io.ErrUnexpectedEOF {
		t.Errorf("a cut header: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestHandshakeRecord(t *testing.T) {
	got := HandshakeRecord(0x0303, 20, []byte{9, 9})
	if want := []byte{RecordHandshake, 3, 3, 0, 6, 20, 0, 0, 2, 9, 9}; !bytes.Equal(got, want) {
		t.Errorf("HandshakeRecord = % x, want % x", got, want)
	}
	got = HandshakeRecordDeclaring(0x0303, 20, []byte{9, 9}, 0x10203)
	if want := []byte{RecordHandshake, 3, 3, 0, 6, 20, 1, 2, 3, 9, 9}; !bytes.Equal(got, want) {
		t.Errorf("HandshakeRecordDeclaring = % x, want % x", got, want)
	}
}
