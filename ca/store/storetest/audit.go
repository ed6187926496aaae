package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lucid-edge/lucid/ca/store"
)

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	entries := []store.AuditEntry{
		{Time: at(0), Actor: "system", Action: "org.created", OrgID: "acme"},
		{Time: at(time.Second), Actor: "edge:e1", Action: "key.issued", OrgID: "acme", KeyID: "k1", Detail: "ok"},
		{Time: at(time.Second), Actor: "edge:e2", Action: "key.refused", OrgID: "acme", Detail: "not entitled"},
		{Time: at(-time.Hour), Actor: "admin", Action: "org.updated", OrgID: "acme", Detail: "clock went back"},
	}
	for _, e := range entries {
		ok(t, s.Audit(ctx, e), "Audit")
	}
	before := time.Now()
	ok(t, s.Audit(ctx, store.AuditEntry{Actor: "system", Action: "no.time"}), "Audit without a time")

	log, err := s.AuditLog(ctx, 0, 0)
	ok(t, err, "AuditLog")
	if len(log) != len(entries)+1 {
		t.Fatalf("AuditLog has %d entries, want %d", len(log), len(entries)+1)
	}
	assertIncreasing(t, log)
	for i, want := range entries {
		want.Seq = log[i].Seq
		wantEqual(t, log[i], want, fmt.Sprintf("entry %d", i))
	}
	if stamped := log[len(entries)].Time; stamped.Before(before.Add(-time.Second)) || stamped.After(time.Now().Add(time.Second)) {
		t.Fatalf("entry without a time was stamped %v, want about %v", stamped, before)
	}

	page, err := s.AuditLog(ctx, 0, 2)
	ok(t, err, "AuditLog page 1")
	wantEqual(t, page, log[:2], "page 1")
	page, err = s.AuditLog(ctx, page[1].Seq, 2)
	ok(t, err, "AuditLog page 2")
	wantEqual(t, page, log[2:4], "page 2")
	page, err = s.AuditLog(ctx, log[len(log)-1].Seq, 10)
	ok(t, err, "AuditLog past the end")
	if len(page) != 0 {
		t.Fatalf("AuditLog past the end = %v", page)
	}
}

func assertIncreasing(t *testing.T, log []store.AuditEntry) {
	t.Helper()
	for i := 1; i < len(log); i++ {
		if log[i].Seq <= log[i-1].Seq {
			t.Fatalf("audit seq %d follows %d", log[i].Seq, log[i-1].Seq)
		}
	}
}

// testConcurrent has 8 goroutines create orgs and append to the audit log
// at once: nothing may fail on a lock, and each goroutine's entries must
// come out in the order it wrote them.
func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			org := fmt.Sprintf("org-%d", w)
			if err := s.CreateOrg(ctx, newOrg(org)); err != nil {
				t.Errorf("CreateOrg %s: %v", org, err)
				return
			}
			for i := range perWorker {
				e := store.AuditEntry{Actor: "system", Action: "test", OrgID: org, Detail: fmt.Sprint(i)}
				if err := s.Audit(ctx, e); err != nil {
					t.Errorf("Audit %s %d: %v", org, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	orgs, err := s.Orgs(ctx)
	ok(t, err, "Orgs")
	if len(orgs) != workers {
		t.Fatalf("%d orgs, want %d", len(orgs), workers)
	}
	log, err := s.AuditLog(ctx, 0, 0)
	ok(t, err, "AuditLog")
	if len(log) != workers*perWorker {
		t.Fatalf("%d audit entries, want %d", len(log), workers*perWorker)
	}
	assertIncreasing(t, log)
	next := map[string]int{}
	for _, e := range log {
		if want := fmt.Sprint(next[e.OrgID]); e.Detail != want {
			t.Fatalf("%s: entry %q at seq %d, want %q", e.OrgID, e.Detail, e.Seq, want)
		}
		next[e.OrgID]++
	}
}
