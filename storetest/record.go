package storetest

import (
	"time"

	"github.com/stratakit/webhook"
)

var recordCases = []testCase{
	{"RetryThenDelivered", testRecordRetryThenDelivered},
	{"Failed", testRecordFailed},
	{"AttemptLogKeepsEveryField", testRecordAttemptLogFields},
	{"SixAttemptsInOrder", testRecordSixAttempts},
	{"TokenSpentAfterRecord", testRecordTokenSpent},
}

// testRecordRetryThenDelivered records a failed attempt with a retry, then
// a successful one, and checks the delivery and its log after each.
func testRecordRetryThenDelivered(h *harness) {
	d := newDelivery(1)
	h.insert(d)

	c := h.claimOne(base, d.ID)
	first := webhook.Attempt{Number: 1, StartedAt: base, Duration: 1500 * time.Millisecond,
		StatusCode: 503, ResponseBody: []byte("busy, come back later"),
		Error: "status 503 Service Unavailable"}
	h.record(c, webhook.Result{
		Attempt: first, Status: webhook.StatusPending,
		NextAttemptAt: at(2500 * time.Millisecond), LastError: first.Error,
	})
	want := d
	want.Attempts = 1
	want.NextAttemptAt = at(2500 * time.Millisecond)
	want.LastError = first.Error
	h.requireDelivery(want)
	h.requireAttempts(d.ID, first)
	h.requireNextDue(want.NextAttemptAt)
	h.claimNone(want.NextAttemptAt.Add(-time.Microsecond), request(10))

	c = h.claimOne(want.NextAttemptAt, d.ID)
	if c.Delivery.Attempts != 2 {
		h.t.Fatalf("retry claimed attempt %d, want 2", c.Delivery.Attempts)
	}
	second := webhook.Attempt{Number: 2, StartedAt: want.NextAttemptAt,
		Duration: 120 * time.Millisecond, StatusCode: 200, ResponseBody: []byte(`{"ok":true}`)}
	h.record(c, webhook.Result{
		Attempt: second, Status: webhook.StatusDelivered,
		FinishedAt: want.NextAttemptAt.Add(second.Duration),
	})
	want.Attempts = 2
	want.Status = webhook.StatusDelivered
	want.FinishedAt = want.NextAttemptAt.Add(second.Duration)
	want.LastError = ""
	got := h.get(d.ID)
	// NextAttemptAt is meaningful only while pending: leave it out.
	want.NextAttemptAt = got.NextAttemptAt
	if diff := diffDelivery(got, want); diff != "" {
		h.t.Fatalf("Get(%q) after delivery differs from what was expected:\n%s", d.ID, diff)
	}
	if got.Err() != nil {
		h.t.Fatalf("Err() of a delivered delivery = %v, want nil", got.Err())
	}
	h.requireAttempts(d.ID, first, second)
	h.requireNextDue(time.Time{})
}

// testRecordFailed records a final failure.
func testRecordFailed(h *harness) {
	d := newDelivery(1)
	h.insert(d)
	c := h.claimOne(base, d.ID)
	a := webhook.Attempt{Number: 1, StartedAt: base, Duration: 30 * time.Second,
		Error: "no status line within 30s"}
	h.record(c, webhook.Result{
		Attempt: a, Status: webhook.StatusFailed, FinishedAt: at(30 * time.Second),
		LastError: "address refused: 10.0.0.7 is private",
	})

	got := h.get(d.ID)
	want := d
	want.Attempts = 1
	want.Status = webhook.StatusFailed
	want.FinishedAt = at(30 * time.Second)
	want.LastError = "address refused: 10.0.0.7 is private"
	want.NextAttemptAt = got.NextAttemptAt
	if diff := diffDelivery(got, want); diff != "" {
		h.t.Fatalf("Get(%q) after failure differs from what was expected:\n%s", d.ID, diff)
	}
	if got.Err() == nil {
		h.t.Fatalf("Err() of a failed delivery = nil, want a *DeliveryError")
	}
	h.requireAttempts(d.ID, a)
	h.requireNextDue(time.Time{})
}

// testRecordAttemptLogFields records an attempt whose fields are hard to
// keep: a full-size binary response snippet, non-ASCII error text, a
// sub-second duration, and checks it comes back exactly.
func testRecordAttemptLogFields(h *harness) {
	h.insertN(1)
	snippet := make([]byte, webhook.MaxResponseSnippet)
	for i := range snippet {
		snippet[i] = byte(i * 7) // every byte value, 0x00 and invalid UTF-8 included
	}
	a := webhook.Attempt{
		Number:       1,
		StartedAt:    at(123456 * time.Microsecond),
		Duration:     29*time.Second + 999999*time.Microsecond,
		StatusCode:   418,
		ResponseBody: snippet,
		Error:        "status 418: «théière» — ответ 😀",
	}
	c := h.claimOne(base, id(1))
	h.record(c, webhook.Result{Attempt: a, Status: webhook.StatusPending,
		NextAttemptAt: at(time.Minute), LastError: a.Error})
	h.requireAttempts(id(1), a)
	if got := h.get(id(1)); got.LastError != a.Error {
		h.t.Fatalf("LastError = %q, want %q", got.LastError, a.Error)
	}
}

// testRecordSixAttempts runs one delivery through six claimed and recorded
// attempts, the default schedule, and checks numbers and order.
func testRecordSixAttempts(h *harness) {
	h.insertN(1)
	delays := []time.Duration{0, time.Second, 5 * time.Second, 30 * time.Second,
		2 * time.Minute, 10 * time.Minute}
	now := base
	var want []webhook.Attempt
	for n := 1; n <= 6; n++ {
		now = now.Add(delays[n-1])
		c := h.claimOne(now, id(1))
		if c.Delivery.Attempts != n {
			h.t.Fatalf("claim %d got attempt number %d", n, c.Delivery.Attempts)
		}
		a := webhook.Attempt{Number: n, StartedAt: now, Duration: time.Duration(n) *
			time.Millisecond, StatusCode: 500, Error: "status 500"}
		r := webhook.Result{Attempt: a, Status: webhook.StatusPending, LastError: a.Error}
		if n < 6 {
			r.NextAttemptAt = now.Add(delays[n])
		} else {
			r.Status, r.FinishedAt = webhook.StatusFailed, now
		}
		h.record(c, r)
		want = append(want, a)
	}
	h.requireAttempts(id(1), want...)
	if got := h.get(id(1)); got.Status != webhook.StatusFailed || got.Attempts != 6 {
		h.t.Fatalf("after six failed attempts: Status %q, Attempts %d; want failed, 6",
			got.Status, got.Attempts)
	}
}

// testRecordTokenSpent checks that Record drops the claim: the same token
// cannot record, extend or release again.
func testRecordTokenSpent(h *harness) {
	h.insertN(1)
	c := h.claimOne(base, id(1))
	r := webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 500},
		Status:  webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 500",
	}
	h.record(c, r)
	before := h.get(id(1))
	if !before.LeaseUntil.IsZero() {
		h.t.Fatalf("LeaseUntil = %v after Record, want zero", before.LeaseUntil)
	}

	err := h.s.Record(h.ctx, id(1), c.Token, r)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "second Record with one token")
	err = h.s.Extend(h.ctx, id(1), c.Token, at(time.Hour))
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Extend after Record")
	err = h.s.Release(h.ctx, id(1), c.Token)
	requireErrorIs(h.t, err, webhook.ErrClaimLost, "Release after Record")
	h.requireDelivery(before)
	if log := h.attempts(id(1)); len(log) != 1 {
		h.t.Fatalf("Attempts = %v after refused calls, want [1]", attemptNumbers(log))
	}
}
