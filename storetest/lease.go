package storetest

import (
	"slices"
	"time"

	"github.com/stratakit/webhook"
)

var leaseCases = []testCase{
	{"ExpiredClaimTakenOver", testLeaseExpiredClaimTakenOver},
	{"OldTokenRefused", testLeaseOldTokenRefused},
	{"TakeoverAfterLastAttemptFails", testLeaseTakeoverAfterLastAttempt},
	{"FailedByTakeoverNotCountedInLimit", testLeaseFailedByTakeoverNotInLimit},
	{"Extend", testLeaseExtend},
	{"Release", testLeaseRelease},
	{"WrongTokenRefused", testLeaseWrongTokenRefused},
	{"RecordAfterExpiryWithoutTakeover", testLeaseRecordAfterExpiry},
}

// requireInterrupted checks the contract's part of an interrupted attempt's
// log entry: its number, the flag, and no reply. When it started and the
// error text a store writes are left to the store.
func requireInterrupted(h *harness, a webhook.Attempt, number int) {
	h.t.Helper()
	if a.Number != number || !a.Interrupted || a.StatusCode != 0 || len(a.ResponseBody) != 0 {
		h.t.Fatalf("interrupted attempt logged as %+v; want Number %d, Interrupted true, "+
			"no status code or response body", a, number)
	}
}

// testLeaseExpiredClaimTakenOver checks that once a lease has expired,
// Claim logs the unfinished attempt as interrupted and claims the next one
// under a new token.
func testLeaseExpiredClaimTakenOver(h *harness) {
	h.insertN(1)
	first := h.claimOne(base, id(1))

	expiry := first.Delivery.LeaseUntil
	second := h.claimOne(expiry, id(1))
	if second.Token == first.Token {
		h.t.Fatalf("takeover kept the token %q; a new claim needs a new token", first.Token)
	}
	if second.Delivery.Attempts != 2 {
		h.t.Fatalf("takeover claimed attempt %d, want 2", second.Delivery.Attempts)
	}
	if !second.Delivery.LeaseUntil.Equal(expiry.Add(lease)) {
		h.t.Fatalf("takeover LeaseUntil = %v, want %v", second.Delivery.LeaseUntil,
			expiry.Add(lease))
	}
	if second.Delivery.Status != webhook.StatusPending {
		h.t.Fatalf("takeover Status = %q, want pending", second.Delivery.Status)
	}

	log := h.attempts(id(1))
	if len(log) != 1 {
		h.t.Fatalf("after takeover Attempts(%q) = %v, want the interrupted attempt 1",
			id(1), attemptNumbers(log))
	}
	requireInterrupted(h, log[0], 1)
	want := newDelivery(1)
	want.Attempts, want.LeaseUntil = 2, expiry.Add(lease)
	want.LastError = second.Delivery.LastError // the store's words for the interruption
	if diff := diffDelivery(second.Delivery, want); diff != "" {
		h.t.Fatalf("the takeover's claim differs from the delivery:\n%s", diff)
	}
	if got := h.get(id(1)); got.Attempts != 2 || !got.LeaseUntil.Equal(expiry.Add(lease)) {
		h.t.Fatalf("after takeover Get: Attempts = %d, LeaseUntil = %v; want 2 and %v",
			got.Attempts, got.LeaseUntil, expiry.Add(lease))
	}
}

// testLeaseOldTokenRefused checks that after a takeover the old token is
// refused by Record, Extend and Release with ErrClaimLost and changes
// nothing, while the new holder records its outcome.
func testLeaseOldTokenRefused(h *harness) {
	h.insertN(1)
	old := h.claimOne(base, id(1))
	now := old.Delivery.LeaseUntil
	cur := h.claimOne(now, id(1))
	before := h.get(id(1))

	late := webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, Duration: 70 * time.Second,
			StatusCode: 200},
		Status:     webhook.StatusDelivered,
		FinishedAt: now.Add(10 * time.Second),
	}
	err := h.s.Record(h.ctx, id(1), old.Token, late)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Record with the taken-over token")
	err = h.s.Extend(h.ctx, id(1), old.Token, now.Add(time.Hour))
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Extend with the taken-over token")
	err = h.s.Release(h.ctx, id(1), old.Token)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Release with the taken-over token")

	h.requireDelivery(before)
	if log := h.attempts(id(1)); len(log) != 1 {
		h.t.Fatalf("refused calls changed the attempt log: %v, want [1]", attemptNumbers(log))
	}

	// The new holder is unaffected.
	ok := webhook.Result{
		Attempt: webhook.Attempt{Number: 2, StartedAt: now, Duration: 250 * time.Millisecond,
			StatusCode: 204},
		Status:     webhook.StatusDelivered,
		FinishedAt: now.Add(250 * time.Millisecond),
	}
	h.record(cur, ok)
	log := h.attempts(id(1))
	if len(log) != 2 {
		h.t.Fatalf("Attempts(%q) = %v, want [1 2]", id(1), attemptNumbers(log))
	}
	requireInterrupted(h, log[0], 1)
	if diff := diffAttempt(log[1], ok.Attempt); diff != "" {
		h.t.Fatalf("Attempts(%q)[1] differs from what was recorded:\n%s", id(1), diff)
	}
	if got := h.get(id(1)); got.Status != webhook.StatusDelivered {
		h.t.Fatalf("Status = %q after the new holder recorded a 204, want delivered", got.Status)
	}
}

// testLeaseTakeoverAfterLastAttempt checks that an expired claim on the
// last attempt is finished as failed instead of being claimed.
func testLeaseTakeoverAfterLastAttempt(h *harness) {
	h.insertN(1)
	r := webhook.ClaimRequest{Limit: 10, Lease: lease, MaxAttempts: 2}
	claim := func(now time.Time) []webhook.Claim {
		h.t.Helper()
		cs, err := h.s.Claim(h.ctx, now, r)
		if err != nil {
			h.t.Fatalf("Claim(%v, %+v): %v", now, r, err)
		}
		return cs
	}

	cs := claim(base)
	if len(cs) != 1 || cs[0].Delivery.Attempts != 1 {
		h.t.Fatalf("first Claim = %+v, want attempt 1 of %q", cs, id(1))
	}
	cs = claim(at(lease))
	if len(cs) != 1 || cs[0].Delivery.Attempts != 2 {
		h.t.Fatalf("first takeover = %+v, want attempt 2 of %q", cs, id(1))
	}
	last := cs[0]

	end := at(2 * lease)
	if cs = claim(end); len(cs) != 0 {
		h.t.Fatalf("takeover after the last attempt claimed %v, want none", claimIDs(cs))
	}
	got := h.get(id(1))
	if got.Status != webhook.StatusFailed || got.Attempts != 2 || !got.FinishedAt.Equal(end) ||
		!got.LeaseUntil.IsZero() || got.LastError == "" {
		h.t.Fatalf("after the last attempt was interrupted: Status %q, Attempts %d, "+
			"FinishedAt %v, LeaseUntil %v, LastError %q; want failed, 2, %v, zero, "+
			"a reason", got.Status, got.Attempts, got.FinishedAt, got.LeaseUntil,
			got.LastError, end)
	}
	log := h.attempts(id(1))
	if len(log) != 2 {
		h.t.Fatalf("Attempts(%q) = %v, want two interrupted attempts", id(1),
			attemptNumbers(log))
	}
	requireInterrupted(h, log[0], 1)
	requireInterrupted(h, log[1], 2)

	err := h.s.Record(h.ctx, id(1), last.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 2, StartedAt: at(lease), StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: end,
	})
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Record on a delivery failed by takeover")
	h.requireDelivery(got)
	if cs = claim(at(24 * time.Hour)); len(cs) != 0 {
		h.t.Fatalf("Claim of a failed delivery = %v, want none", claimIDs(cs))
	}
	h.requireNextDue(time.Time{})
}

// testLeaseExtend checks that Extend moves the lease, so the delivery is
// neither taken over nor reported due before the new end.
func testLeaseExtend(h *harness) {
	h.insertN(1)
	c := h.claimOne(base, id(1))
	until := at(5 * time.Minute)
	if err := h.s.Extend(h.ctx, id(1), c.Token, until); err != nil {
		h.t.Fatalf("Extend(%q) with the holder's token: %v", id(1), err)
	}

	want := c.Delivery
	want.LeaseUntil = until
	h.requireDelivery(want)
	h.requireNextDue(until)
	h.claimNone(at(lease), request(10))
	h.claimNone(until.Add(-time.Microsecond), request(10))

	// The holder still holds it and may extend again.
	if err := h.s.Extend(h.ctx, id(1), c.Token, at(6*time.Minute)); err != nil {
		h.t.Fatalf("second Extend(%q): %v", id(1), err)
	}
	next := h.claimOne(at(6*time.Minute), id(1))
	if next.Delivery.Attempts != 2 {
		h.t.Fatalf("takeover after the extended lease claimed attempt %d, want 2",
			next.Delivery.Attempts)
	}
}

// testLeaseRelease checks that Release drops the claim, uncounts the
// attempt and keeps the due time, and that the released token is refused.
func testLeaseRelease(h *harness) {
	d := newDelivery(1)
	d.NextAttemptAt = at(-time.Minute)
	h.insert(d)
	c := h.claimOne(base, d.ID)

	if err := h.s.Release(h.ctx, d.ID, c.Token); err != nil {
		h.t.Fatalf("Release(%q) with the holder's token: %v", d.ID, err)
	}
	h.requireDelivery(d)
	h.requireAttempts(d.ID)
	h.requireNextDue(d.NextAttemptAt)

	again := h.claimOne(base, d.ID)
	if again.Delivery.Attempts != 1 {
		h.t.Fatalf("claim after Release got attempt %d, want 1 again", again.Delivery.Attempts)
	}
	if again.Token == c.Token {
		h.t.Fatalf("claim after Release reused the token %q", c.Token)
	}
	err := h.s.Release(h.ctx, d.ID, c.Token)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Release with the released token")
	err = h.s.Record(h.ctx, d.ID, c.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: base,
	})
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Record with the released token")

	// Release after a recorded retry uncounts only the claimed attempt.
	h.record(again, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 502,
			Error: "status 502"},
		Status: webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 502",
	})
	retry := h.claimOne(at(time.Second), d.ID)
	if err := h.s.Release(h.ctx, d.ID, retry.Token); err != nil {
		h.t.Fatalf("Release(%q) of attempt 2: %v", d.ID, err)
	}
	got := h.get(d.ID)
	if got.Attempts != 1 || !got.NextAttemptAt.Equal(at(time.Second)) ||
		!got.LeaseUntil.IsZero() || got.Status != webhook.StatusPending {
		h.t.Fatalf("after releasing attempt 2: Attempts %d, NextAttemptAt %v, LeaseUntil %v, "+
			"Status %q; want 1, %v, zero, pending", got.Attempts, got.NextAttemptAt,
			got.LeaseUntil, got.Status, at(time.Second))
	}
}

// testLeaseWrongTokenRefused checks that a token that never held the
// delivery is refused, for a held and for an unclaimed delivery.
func testLeaseWrongTokenRefused(h *harness) {
	h.insertN(2)
	c := h.claim(base, request(1))
	if len(c) != 1 {
		h.t.Fatalf("Claim(Limit 1) = %v, want one", claimIDs(c))
	}
	held := c[0].Delivery.ID
	free := id(1)
	if held == free {
		free = id(2)
	}
	heldBefore, freeBefore := h.get(held), h.get(free)

	result := webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: base,
	}
	for _, target := range []string{held, free} {
		err := h.s.Record(h.ctx, target, "not-a-token", result)
		requireErrorIs(h.t, err, webhook.ErrClaimLost, "Record("+target+") with a wrong token")
		err = h.s.Extend(h.ctx, target, "not-a-token", at(time.Hour))
		requireErrorIs(h.t, err, webhook.ErrClaimLost, "Extend("+target+") with a wrong token")
		err = h.s.Release(h.ctx, target, "not-a-token")
		requireErrorIs(h.t, err, webhook.ErrClaimLost, "Release("+target+") with a wrong token")
	}
	// The holder's token is not valid for another delivery either.
	err := h.s.Record(h.ctx, free, c[0].Token, result)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Record("+free+") with another's token")

	h.requireDelivery(heldBefore)
	h.requireDelivery(freeBefore)
	h.requireAttempts(held)
	h.requireAttempts(free)
}

// testLeaseRecordAfterExpiry checks that a lease that expired without a
// takeover still holds: the token stays good until another claim.
func testLeaseRecordAfterExpiry(h *harness) {
	h.insertN(1)
	c := h.claimOne(base, id(1))
	// No Claim ran after the lease ended, so nobody took the delivery over.
	h.record(c, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, Duration: 2 * lease,
			StatusCode: 200},
		Status:     webhook.StatusDelivered,
		FinishedAt: at(2 * lease),
	})
	if got := h.get(id(1)); got.Status != webhook.StatusDelivered {
		h.t.Fatalf("Status = %q after recording past the lease, want delivered", got.Status)
	}
}

// testLeaseFailedByTakeoverNotInLimit checks that deliveries a Claim
// finishes as failed, their last attempt interrupted, do not count against
// its Limit: the due deliveries behind them are claimed in the same call.
func testLeaseFailedByTakeoverNotInLimit(h *harness) {
	r := webhook.ClaimRequest{Limit: 3, Lease: lease, MaxAttempts: 1}
	h.insertN(3)
	if cs, err := h.s.Claim(h.ctx, base, r); err != nil || len(cs) != 3 {
		h.t.Fatalf("Claim = %v, %v; want the three deliveries", claimIDs(cs), err)
	}
	for n := 4; n <= 5; n++ {
		d := newDelivery(n)
		d.NextAttemptAt = at(lease)
		h.insert(d)
	}

	// At lease expiry the three held ones are due first, and fail; the two
	// fresh ones are claimed all the same.
	cs, err := h.s.Claim(h.ctx, at(lease), r)
	if err != nil {
		h.t.Fatalf("Claim at lease expiry: %v", err)
	}
	got := claimIDs(cs)
	slices.Sort(got)
	if want := []string{id(4), id(5)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim(Limit 3) after three failed takeovers claimed %v, want %v",
			got, want)
	}
	for n := 1; n <= 3; n++ {
		if d := h.get(id(n)); d.Status != webhook.StatusFailed {
			h.t.Fatalf("%q is %q, want failed by takeover", id(n), d.Status)
		}
	}
}
