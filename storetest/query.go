package storetest

import (
	"fmt"
	"slices"
	"time"

	"github.com/stratakit/webhook"
)

var nextDueCases = []testCase{
	{"NothingPending", testNextDueNothingPending},
	{"EarliestDue", testNextDueEarliest},
	{"LeaseExpiry", testNextDueLeaseExpiry},
	{"SkipHosts", testNextDueSkipHosts},
}

var listCases = []testCase{
	{"ByStatus", testListByStatus},
	{"ByProductionID", testListByProductionID},
	{"Order", testListOrder},
	{"Limit", testListLimit},
	{"DefaultLimit", testListDefaultLimit},
}

var purgeCases = []testCase{
	{"FinishedBefore", testPurgeFinishedBefore},
	{"NeverPending", testPurgeNeverPending},
	{"FreesIdempotencyKey", testPurgeFreesIdempotencyKey},
}

// testNextDueNothingPending checks ok=false for an empty store and for one
// holding only finished deliveries.
func testNextDueNothingPending(h *harness) {
	h.requireNextDue(time.Time{})
	h.finish(newDelivery(1), webhook.StatusDelivered, base)
	h.finish(newDelivery(2), webhook.StatusFailed, base)
	h.requireNextDue(time.Time{})
}

// testNextDueEarliest checks that NextDue is the earliest due time of the
// pending deliveries, past or future.
func testNextDueEarliest(h *harness) {
	for n, due := range map[int]time.Duration{1: 10 * time.Second, 2: 5 * time.Second,
		3: 20 * time.Second} {
		d := newDelivery(n)
		d.NextAttemptAt = at(due)
		h.insert(d)
	}
	h.requireNextDue(at(5 * time.Second))

	d := newDelivery(4)
	d.NextAttemptAt = at(-time.Hour)
	h.insert(d)
	h.requireNextDue(at(-time.Hour))
}

// testNextDueLeaseExpiry checks that a claimed delivery counts at its lease
// expiry, and follows Extend and Record.
func testNextDueLeaseExpiry(h *harness) {
	h.insertN(1)
	later := newDelivery(2)
	later.NextAttemptAt = at(10 * time.Minute)
	h.insert(later)

	c := h.claimOne(base, id(1))
	h.requireNextDue(at(lease))
	if err := h.s.Extend(h.ctx, id(1), c.Token, at(20*time.Minute)); err != nil {
		h.t.Fatalf("Extend: %v", err)
	}
	h.requireNextDue(later.NextAttemptAt)
	h.record(c, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 500},
		Status:  webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 500",
	})
	h.requireNextDue(at(time.Second))
}

// testNextDueSkipHosts checks that NextDue leaves out the skipped hosts'
// deliveries, claimed or not, as Claim does.
func testNextDueSkipHosts(h *harness) {
	busy, idle := "busy.example:443", "idle.example:443"
	for n, due := range map[int]time.Duration{1: -time.Minute, 2: 10 * time.Second,
		3: 30 * time.Second} {
		d := newDelivery(n)
		d.Host, d.NextAttemptAt = busy, at(due)
		if n == 3 {
			d.Host = idle
		}
		h.insert(d)
	}
	h.claimOne(base, id(1)) // held until base+lease

	next := func(skip ...string) (time.Time, bool) {
		t, ok, err := h.s.NextDue(h.ctx, skip)
		if err != nil {
			h.t.Fatalf("NextDue(%v): %v", skip, err)
		}
		return t, ok
	}
	if t, ok := next(); !ok || !t.Equal(at(10*time.Second)) {
		h.t.Fatalf("NextDue() = %v, %v; want %v", t, ok, at(10*time.Second))
	}
	if t, ok := next(busy); !ok || !t.Equal(at(30*time.Second)) {
		h.t.Fatalf("NextDue(%q) = %v, %v; want the other host's %v", busy, t, ok,
			at(30*time.Second))
	}
	if t, ok := next(busy, idle); ok {
		h.t.Fatalf("NextDue(every host) = %v, true; want ok=false", t)
	}
}

// listFixture stores deliveries for two productions in every state:
// pending 1, 2 (A) and 5 (B); delivered 3 (A) and 6 (B); failed 4 (A).
// Creation times follow the numbers.
func listFixture(h *harness) {
	h.t.Helper()
	for n := 1; n <= 6; n++ {
		d := newDelivery(n)
		d.ProductionID = "prod-A"
		if n >= 5 {
			d.ProductionID = "prod-B"
		}
		d.CreatedAt = at(time.Duration(n) * time.Second)
		switch n {
		case 3, 6:
			h.finish(d, webhook.StatusDelivered, base)
		case 4:
			h.finish(d, webhook.StatusFailed, base)
		default:
			h.insert(d)
		}
	}
}

// requireList checks the IDs List returns for f, in order.
func (h *harness) requireList(f webhook.Filter, want ...string) {
	h.t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := deliveryIDs(h.list(f)); !slices.Equal(got, want) {
		h.t.Fatalf("List(%+v) = %v, want %v", f, got, want)
	}
}

func testListByStatus(h *harness) {
	listFixture(h)
	h.requireList(webhook.Filter{}, id(1), id(2), id(3), id(4), id(5), id(6))
	h.requireList(webhook.Filter{Status: webhook.StatusPending}, id(1), id(2), id(5))
	h.requireList(webhook.Filter{Status: webhook.StatusDelivered}, id(3), id(6))
	h.requireList(webhook.Filter{Status: webhook.StatusFailed}, id(4))

	// Claimed deliveries are still pending.
	if cs := h.claim(base, request(3)); len(cs) != 3 {
		h.t.Fatalf("Claim = %v, want the three pending deliveries", claimIDs(cs))
	}
	h.requireList(webhook.Filter{Status: webhook.StatusPending}, id(1), id(2), id(5))
}

func testListByProductionID(h *harness) {
	listFixture(h)
	h.requireList(webhook.Filter{ProductionID: "prod-A"}, id(1), id(2), id(3), id(4))
	h.requireList(webhook.Filter{ProductionID: "prod-B"}, id(5), id(6))
	h.requireList(webhook.Filter{ProductionID: "prod-B", Status: webhook.StatusDelivered},
		id(6))
	h.requireList(webhook.Filter{ProductionID: "prod-A", Status: webhook.StatusPending},
		id(1), id(2))
	h.requireList(webhook.Filter{ProductionID: "prod-C"})
	h.requireList(webhook.Filter{ProductionID: "prod-B", Status: webhook.StatusFailed})
}

// testListOrder checks oldest CreatedAt first and ties by ID, whatever the
// insertion order.
func testListOrder(h *harness) {
	created := map[int]time.Duration{1: time.Second, 2: time.Second, 3: 2 * time.Second,
		4: 0, 5: time.Second}
	for _, n := range []int{3, 5, 2, 4, 1} {
		d := newDelivery(n)
		d.CreatedAt = at(created[n])
		h.insert(d)
	}
	h.requireList(webhook.Filter{}, id(4), id(1), id(2), id(5), id(3))
}

func testListLimit(h *harness) {
	listFixture(h)
	h.requireList(webhook.Filter{Limit: 2}, id(1), id(2))
	h.requireList(webhook.Filter{Limit: 2, Status: webhook.StatusDelivered}, id(3), id(6))
	h.requireList(webhook.Filter{Limit: 1, ProductionID: "prod-B"}, id(5))
	h.requireList(webhook.Filter{Limit: 10}, id(1), id(2), id(3), id(4), id(5), id(6))
}

// testListDefaultLimit checks that a zero Limit means 100.
func testListDefaultLimit(h *harness) {
	const n = 101
	want := make([]string, 0, n)
	for i := n; i >= 1; i-- { // newest first, so that insertion order is not list order
		d := newDelivery(i)
		d.CreatedAt = at(time.Duration(i) * time.Millisecond)
		h.insert(d)
	}
	for i := 1; i <= 100; i++ {
		want = append(want, id(i))
	}
	h.requireList(webhook.Filter{}, want...)
	if got := h.list(webhook.Filter{Limit: 200}); len(got) != n {
		h.t.Fatalf("List(Limit 200) returned %d deliveries, want %d", len(got), n)
	}
}

// testPurgeFinishedBefore checks that Purge deletes delivered and failed
// deliveries finished strictly before the cutoff, with their attempt logs.
func testPurgeFinishedBefore(h *harness) {
	cutoff := at(3 * time.Minute)
	h.finish(newDelivery(1), webhook.StatusDelivered, at(time.Minute))
	h.finish(newDelivery(2), webhook.StatusFailed, at(2*time.Minute))
	h.finish(newDelivery(3), webhook.StatusDelivered, cutoff)
	h.finish(newDelivery(4), webhook.StatusFailed, at(4*time.Minute))
	h.insert(newDelivery(5))

	n, err := h.s.Purge(h.ctx, cutoff)
	if err != nil {
		h.t.Fatalf("Purge(%v): %v", cutoff, err)
	}
	if n != 2 {
		h.t.Fatalf("Purge(%v) = %d, want 2 (deliveries 1 and 2)", cutoff, n)
	}
	for _, gone := range []string{id(1), id(2)} {
		_, err := h.s.Get(h.ctx, gone)
		requireErrorIs(h.t, err, webhook.ErrNotFound, fmt.Sprintf("Get(%q) after Purge", gone))
		_, err = h.s.Attempts(h.ctx, gone)
		requireErrorIs(h.t, err, webhook.ErrNotFound,
			fmt.Sprintf("Attempts(%q) after Purge", gone))
	}
	h.requireList(webhook.Filter{}, id(3), id(4), id(5))
	if log := h.attempts(id(3)); len(log) != 1 {
		h.t.Fatalf("Attempts(%q) of a kept delivery = %v, want [1]", id(3), attemptNumbers(log))
	}

	if n, err = h.s.Purge(h.ctx, cutoff); err != nil || n != 0 {
		h.t.Fatalf("second Purge(%v) = %d, %v; want 0, nil", cutoff, n, err)
	}
}

// testPurgeNeverPending checks that pending deliveries, held or not, stay
// whatever the cutoff.
func testPurgeNeverPending(h *harness) {
	for n, due := range map[int]time.Duration{1: -2 * time.Minute, 2: -time.Minute,
		3: 10 * time.Minute} {
		d := newDelivery(n)
		d.CreatedAt = at(-365 * 24 * time.Hour)
		d.NextAttemptAt = at(due)
		h.insert(d)
	}
	// 1 waits for a retry, 2 is held, 3 is not yet due.
	h.record(h.claimOne(base.Add(-90*time.Second), id(1)), webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 500},
		Status:  webhook.StatusPending, NextAttemptAt: at(time.Hour), LastError: "status 500",
	})
	h.claimOne(base, id(2))

	n, err := h.s.Purge(h.ctx, at(10*365*24*time.Hour))
	if err != nil || n != 0 {
		h.t.Fatalf("Purge of a store holding only pending deliveries = %d, %v; want 0, nil",
			n, err)
	}
	h.requireList(webhook.Filter{}, id(1), id(2), id(3))
}

// testPurgeFreesIdempotencyKey checks that a key is held as long as its
// delivery is kept, and no longer.
func testPurgeFreesIdempotencyKey(h *harness) {
	first := newDelivery(1)
	first.IdempotencyKey = "job-7"
	h.finish(first, webhook.StatusDelivered, base)

	again := newDelivery(2)
	again.IdempotencyKey = "job-7"
	if got := h.insert(again); got != first.ID {
		h.t.Fatalf("Insert with the key of a finished, kept delivery returned %q, want %q",
			got, first.ID)
	}
	if n, err := h.s.Purge(h.ctx, at(time.Minute)); err != nil || n != 1 {
		h.t.Fatalf("Purge = %d, %v; want 1, nil", n, err)
	}
	if got := h.insert(again); got != again.ID {
		h.t.Fatalf("Insert with the key of a purged delivery returned %q, want a new "+
			"delivery %q", got, again.ID)
	}
	h.requireDelivery(again)
}
