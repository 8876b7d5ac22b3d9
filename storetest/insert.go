package storetest

import (
	"time"

	"github.com/stratakit/webhook"
)

var insertCases = []testCase{
	{"RoundTrip", testInsertRoundTrip},
	{"ReturnsCopies", testInsertReturnsCopies},
	{"IdempotencyKey", testInsertIdempotencyKey},
	{"EmptyIdempotencyKeyIsNone", testInsertEmptyIdempotencyKey},
	{"UnknownID", testGetUnknownID},
}

// testInsertRoundTrip stores a delivery with every field set and reads it
// back unchanged, with Get and List, and with an empty attempt log.
func testInsertRoundTrip(h *harness) {
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	d := webhook.Delivery{
		ID:             "msg_st_roundtrip",
		IdempotencyKey: "render-job-42/attempt-1",
		URL:            "https://hooks.example.com:8443/stratakit?tenant=7&sig=abc",
		Host:           "hooks.example.com:8443",
		EventType:      webhook.ProductionFailed,
		ProductionID:   "550e8400-e29b-41d4-a716-446655440000",
		Body: []byte(`{"event":"production.failed","timestamp":"2026-01-15T10:30:05Z",` +
			`"data":{"production_id":"550e8400-e29b-41d4-a716-446655440000",` +
			`"status":"failed","output_url":null,` +
			`"error":"Codec «h265» & <main10> unsupported — frame 12"}}`),
		SecretKey: "tenant-7",
		Status:    webhook.StatusPending,
		// Whole microseconds, in another location than UTC: a store keeps
		// the instant to the microsecond, whatever location it returns.
		NextAttemptAt: at(1500 * time.Millisecond).Add(123456 * time.Microsecond).In(plus2),
		CreatedAt:     at(987654 * time.Microsecond).In(plus2),
	}
	if got := h.insert(d); got != d.ID {
		h.t.Fatalf("Insert returned ID %q, want the delivery's ID %q", got, d.ID)
	}

	h.requireDelivery(d)
	h.requireAttempts(d.ID)
	ds := h.list(webhook.Filter{})
	if len(ds) != 1 {
		h.t.Fatalf("List() = %v, want the one delivery", deliveryIDs(ds))
	}
	if diff := diffDelivery(ds[0], d); diff != "" {
		h.t.Fatalf("List()[0] differs from what was inserted:\n%s", diff)
	}
}

// testInsertReturnsCopies checks that neither the caller's slice given to
// Insert nor the slices returned by Get, List, Claim and Attempts share
// memory with what the store keeps.
func testInsertReturnsCopies(h *harness) {
	d := newDelivery(1)
	want := d
	want.Body = append([]byte(nil), d.Body...)
	h.insert(d)
	d.Body[0] = 'X'

	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	scribble(h.get(want.ID).Body)
	for _, got := range h.list(webhook.Filter{}) {
		scribble(got.Body)
	}
	c := h.claimOne(base, want.ID)
	scribble(c.Delivery.Body)
	h.record(c, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 500,
			ResponseBody: []byte("boom"), Error: "status 500"},
		Status: webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 500",
	})
	scribble(h.attempts(want.ID)[0].ResponseBody)

	got := h.get(want.ID)
	if string(got.Body) != string(want.Body) {
		h.t.Fatalf("Body changed through a slice given to or returned by the store:\n"+
			"got  %q\nwant %q", got.Body, want.Body)
	}
	if b := h.attempts(want.ID)[0].ResponseBody; string(b) != "boom" {
		h.t.Fatalf("ResponseBody changed through a slice returned by Attempts: %q, want %q",
			b, "boom")
	}
}

// testInsertIdempotencyKey inserts a second delivery with a key already
// held: the first delivery's ID comes back and nothing new is stored.
func testInsertIdempotencyKey(h *harness) {
	first := newDelivery(1)
	first.IdempotencyKey = "job-7"
	h.insert(first)

	second := newDelivery(2)
	second.IdempotencyKey = "job-7"
	second.Body = []byte(`{"event":"production.completed","other":true}`)
	if got := h.insert(second); got != first.ID {
		h.t.Fatalf("Insert of a delivery with a held idempotency key returned %q, "+
			"want the first delivery's ID %q", got, first.ID)
	}

	_, err := h.s.Get(h.ctx, second.ID)
	requireErrorIs(h.t, err, webhook.ErrNotFound, "Get of the deduplicated delivery")
	h.requireDelivery(first)
	if ds := h.list(webhook.Filter{}); len(ds) != 1 {
		h.t.Fatalf("List() = %v, want only %q", deliveryIDs(ds), first.ID)
	}

	// Another key is another delivery.
	third := newDelivery(3)
	third.IdempotencyKey = "job-8"
	if got := h.insert(third); got != third.ID {
		h.t.Fatalf("Insert with a new idempotency key returned %q, want %q", got, third.ID)
	}
	h.requireDelivery(third)
}

// testInsertEmptyIdempotencyKey checks that deliveries without a key are
// never deduplicated against each other.
func testInsertEmptyIdempotencyKey(h *harness) {
	h.insertN(3)
	if ds := h.list(webhook.Filter{}); len(ds) != 3 {
		h.t.Fatalf("List() after three inserts without a key = %v, want three", deliveryIDs(ds))
	}
}

// testGetUnknownID checks ErrNotFound from Get and Attempts.
func testGetUnknownID(h *harness) {
	h.insertN(1)
	_, err := h.s.Get(h.ctx, "msg_st_missing")
	requireErrorIs(h.t, err, webhook.ErrNotFound, `Get("msg_st_missing")`)
	_, err = h.s.Attempts(h.ctx, "msg_st_missing")
	requireErrorIs(h.t, err, webhook.ErrNotFound, `Attempts("msg_st_missing")`)
}
