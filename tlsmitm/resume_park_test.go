package tlsmitm

import (
	"testing"
	"time"
)

// parkEnv is resumeEnv's server with Config.ParkResumed: every hello,
// resumable or not, parks, and the test decides how each goes on.
type parkEnv struct {
	*resumeEnv
	// decide answers a parked handshake; it sees whether it could resume.
	decide func(c *Conn, out []byte) ([]byte, error)
	// sawResumable records Resumable() at each park.
	sawResumable []bool
}

func newParkEnv(t *testing.T, tk *TicketKeys) *parkEnv {
	e := &parkEnv{resumeEnv: newResumeEnv(tk)}
	e.cfg.ParkResumed = true
	e.cfg.GetCertificate = func(*ClientHello) (*Certificate, error) { return nil, nil }
	e.pending = func(c *Conn, out []byte) ([]byte, error) {
		if c.Hello() == nil {
			t.Errorf("pending handshake without a hello")
		}
		e.sawResumable = append(e.sawResumable, c.Resumable())
		return e.decide(c, out)
	}
	return e
}

// resumeIfYouCan is the proxy's choice: resume when the ticket is good,
// else a certificate.
func resumeIfYouCan(c *Conn, out []byte) ([]byte, error) {
	if c.Resumable() {
		return c.Resume(out)
	}
	return c.SetCertificate(testCert, out)
}

func TestParkResumedThenResume(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newParkEnv(t, tk)
	e.decide = resumeIfYouCan
	for i, want := range []bool{false, true, true} {
		cst, sst := e.run(t)
		if cst.DidResume != want || sst.DidResume != want {
			t.Fatalf("connection %d: client DidResume %v, server %v; want %v", i, cst.DidResume, sst.DidResume, want)
		}
	}
	if got := e.sawResumable; len(got) != 3 || got[0] || !got[1] || !got[2] {
		t.Fatalf("Resumable at each park: %v, want [false true true]", got)
	}
}

// A certificate given to a resumable handshake declines the ticket: the
// client verifies the certificate in a full handshake on the same hello,
// and the new ticket it gets resumes later.
func TestParkResumedDeclinedBySetCertificate(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newParkEnv(t, tk)
	e.decide = func(c *Conn, out []byte) ([]byte, error) { return c.SetCertificate(testCert, out) }
	for i := range 3 {
		cst, sst := e.run(t)
		if cst.DidResume || sst.DidResume {
			t.Fatalf("connection %d resumed after SetCertificate", i)
		}
		if len(cst.PeerCertificates) == 0 {
			t.Fatalf("connection %d: the client saw no certificate", i)
		}
	}
	if got := e.sawResumable; len(got) != 3 || got[0] || !got[1] || !got[2] {
		t.Fatalf("Resumable at each park: %v, want [false true true]", got)
	}
	// The tickets of the declined connections are good: resume one now.
	e.decide = resumeIfYouCan
	if cst, _ := e.run(t); !cst.DidResume {
		t.Fatal("a ticket from a declined handshake did not resume")
	}
}

// Resume is refused when there is nothing to resume.
func TestResumeWithoutTicket(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newParkEnv(t, tk)
	var resumeErr error
	e.decide = func(c *Conn, out []byte) ([]byte, error) {
		_, resumeErr = c.Resume(nil)
		return c.SetCertificate(testCert, out)
	}
	e.run(t)
	if resumeErr == nil {
		t.Fatal("Resume on a full handshake succeeded")
	}
}

// A ticket resumes only in the session context it was issued in.
func TestSessionContextBindsTickets(t *testing.T) {
	tk := NewTicketKeys(time.Hour)
	defer tk.Close()
	e := newParkEnv(t, tk)
	e.decide = resumeIfYouCan
	e.ctx = []byte("org-a")
	if cst, _ := e.run(t); cst.DidResume {
		t.Fatal("first connection resumed")
	}
	if cst, _ := e.run(t); !cst.DidResume {
		t.Fatal("same context did not resume")
	}
	e.ctx = []byte("org-b")
	if cst, _ := e.run(t); cst.DidResume {
		t.Fatal("a ticket of org-a resumed under org-b")
	}
	// No context at all is a context of its own.
	e.ctx = nil
	if cst, _ := e.run(t); cst.DidResume {
		t.Fatal("a ticket with a context resumed without one")
	}
	if cst, _ := e.run(t); !cst.DidResume {
		t.Fatal("no context: the ticket issued without one did not resume")
	}
}
