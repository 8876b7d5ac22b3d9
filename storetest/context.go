package storetest

import (
	"context"
	"time"

	"github.com/stratakit/webhook"
)

var contextCases = []testCase{
	{"Canceled", testContextCanceled},
	{"DeadlineExceeded", testContextDeadlineExceeded},
}

// testContextCanceled calls every method with a canceled context: each
// returns an error wrapping context.Canceled and changes nothing.
func testContextCanceled(h *harness) {
	h.finish(newDelivery(1), webhook.StatusDelivered, base)
	h.insert(newDelivery(2))
	held := h.claimOne(base, id(2))
	h.insert(newDelivery(3))
	before := map[string]webhook.Delivery{}
	for _, n := range []int{1, 2, 3} {
		before[id(n)] = h.get(id(n))
	}

	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	check := func(call string, err error) {
		h.t.Helper()
		requireErrorIs(h.t, err, context.Canceled, call+" with a canceled context")
	}
	late := at(time.Hour) // held's lease has expired by then

	_, err := h.s.Insert(ctx, newDelivery(4))
	check("Insert", err)
	_, err = h.s.Get(ctx, id(1))
	check("Get", err)
	_, err = h.s.Attempts(ctx, id(1))
	check("Attempts", err)
	_, err = h.s.List(ctx, webhook.Filter{})
	check("List", err)
	_, err = h.s.Claim(ctx, late, request(10))
	check("Claim", err)
	check("Extend", h.s.Extend(ctx, id(2), held.Token, late))
	check("Release", h.s.Release(ctx, id(2), held.Token))
	check("Record", h.s.Record(ctx, id(2), held.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: base,
	}))
	_, _, err = h.s.NextDue(ctx, nil)
	check("NextDue", err)
	_, err = h.s.Purge(ctx, late)
	check("Purge", err)

	// Nothing changed: no new delivery, no takeover, no purge, and the
	// holder's claim still stands.
	_, err = h.s.Get(h.ctx, id(4))
	requireErrorIs(h.t, err, webhook.ErrNotFound, "Get of the delivery inserted with a "+
		"canceled context")
	for _, n := range []int{1, 2, 3} {
		h.requireDelivery(before[id(n)])
	}
	h.requireAttempts(id(2))
	if err := h.s.Extend(h.ctx, id(2), held.Token, at(2*lease)); err != nil {
		h.t.Fatalf("Extend by the holder after the canceled calls: %v", err)
	}
}

// testContextDeadlineExceeded checks that an expired deadline is reported
// as such by Insert and Claim, with no effect.
func testContextDeadlineExceeded(h *harness) {
	h.insertN(1)
	ctx, cancel := context.WithDeadline(h.ctx, time.Unix(0, 0))
	defer cancel()

	_, err := h.s.Insert(ctx, newDelivery(2))
	requireErrorIs(h.t, err, context.DeadlineExceeded, "Insert past its deadline")
	_, err = h.s.Claim(ctx, base, request(10))
	requireErrorIs(h.t, err, context.DeadlineExceeded, "Claim past its deadline")

	h.requireList(webhook.Filter{}, id(1))
	if got := h.get(id(1)); got.Attempts != 0 || !got.LeaseUntil.IsZero() {
		h.t.Fatalf("Claim past its deadline claimed %q: Attempts %d, LeaseUntil %v",
			id(1), got.Attempts, got.LeaseUntil)
	}
}
