package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratakit/webhook"
)

// base is the suite's "now" at the start of every subtest. Later times are
// offsets from it; none is read from a clock.
var base = time.Date(2026, time.January, 15, 10, 30, 0, 0, time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

// Claim requests used throughout: a one-minute lease and the default six
// attempts.
const (
	lease       = time.Minute
	maxAttempts = 6
)

// request returns a ClaimRequest for up to limit deliveries.
func request(limit int, skip ...string) webhook.ClaimRequest {
	return webhook.ClaimRequest{Limit: limit, Lease: lease, MaxAttempts: maxAttempts,
		SkipHosts: skip}
}

// id returns the suite's n-th delivery ID.
func id(n int) string { return fmt.Sprintf("msg_st_%04d", n) }

// newDelivery returns a pending delivery with every field set, due and
// created at base, as the Dispatcher would build it.
func newDelivery(n int) webhook.Delivery {
	production := fmt.Sprintf("prod-%04d", n)
	body := fmt.Sprintf(`{"event":"production.completed","timestamp":"2026-01-15T10:30:00Z",`+
		`"data":{"production_id":%q,"status":"completed",`+
		`"output_url":"https://assets.example.com/v.mp4?a=1&b=<2>","error":null}}`, production)
	return webhook.Delivery{
		ID:            id(n),
		URL:           "https://hooks.example.com/stratakit?tenant=7",
		Host:          "hooks.example.com:443",
		EventType:     webhook.ProductionCompleted,
		ProductionID:  production,
		Body:          []byte(body),
		SecretKey:     "tenant-7",
		Status:        webhook.StatusPending,
		NextAttemptAt: base,
		CreatedAt:     base,
	}
}

// harness wraps a store under test with calls that fail the test on an
// unexpected error.
type harness struct {
	t   *testing.T
	s   webhook.Store
	ctx context.Context
}

func newHarness(t *testing.T, s webhook.Store) *harness {
	return &harness{t: t, s: s, ctx: t.Context()}
}

func (h *harness) insert(d webhook.Delivery) string {
	h.t.Helper()
	got, err := h.s.Insert(h.ctx, d)
	if err != nil {
		h.t.Fatalf("Insert(%q): %v", d.ID, err)
	}
	return got
}

// insertN inserts deliveries 1 to n as built by newDelivery, changed by
// each function in change.
func (h *harness) insertN(n int, change ...func(*webhook.Delivery)) {
	h.t.Helper()
	for i := 1; i <= n; i++ {
		d := newDelivery(i)
		for _, f := range change {
			f(&d)
		}
		h.insert(d)
	}
}

func (h *harness) get(id string) webhook.Delivery {
	h.t.Helper()
	d, err := h.s.Get(h.ctx, id)
	if err != nil {
		h.t.Fatalf("Get(%q): %v", id, err)
	}
	return d
}

func (h *harness) attempts(id string) []webhook.Attempt {
	h.t.Helper()
	a, err := h.s.Attempts(h.ctx, id)
	if err != nil {
		h.t.Fatalf("Attempts(%q): %v", id, err)
	}
	return a
}

func (h *harness) list(f webhook.Filter) []webhook.Delivery {
	h.t.Helper()
	ds, err := h.s.List(h.ctx, f)
	if err != nil {
		h.t.Fatalf("List(%+v): %v", f, err)
	}
	return ds
}

func (h *harness) claim(now time.Time, r webhook.ClaimRequest) []webhook.Claim {
	h.t.Helper()
	cs, err := h.s.Claim(h.ctx, now, r)
	if err != nil {
		h.t.Fatalf("Claim(%v, %+v): %v", now, r, err)
	}
	return cs
}

// claimOne claims at now and requires exactly one claim, of delivery id.
func (h *harness) claimOne(now time.Time, id string) webhook.Claim {
	h.t.Helper()
	cs := h.claim(now, request(10))
	if len(cs) != 1 || cs[0].Delivery.ID != id {
		h.t.Fatalf("Claim at %v = %v, want exactly %q", now, claimIDs(cs), id)
	}
	if cs[0].Token == "" {
		h.t.Fatalf("Claim at %v gave %q an empty token", now, id)
	}
	return cs[0]
}

// claimNone claims at now and requires that nothing is claimed.
func (h *harness) claimNone(now time.Time, r webhook.ClaimRequest) {
	h.t.Helper()
	if cs := h.claim(now, r); len(cs) != 0 {
		h.t.Fatalf("Claim at %v = %v, want none", now, claimIDs(cs))
	}
}

func (h *harness) record(c webhook.Claim, r webhook.Result) {
	h.t.Helper()
	if err := h.s.Record(h.ctx, c.Delivery.ID, c.Token, r); err != nil {
		h.t.Fatalf("Record(%q, attempt %d): %v", c.Delivery.ID, r.Attempt.Number, err)
	}
}

func (h *harness) nextDue() (time.Time, bool) {
	h.t.Helper()
	t, ok, err := h.s.NextDue(h.ctx, nil)
	if err != nil {
		h.t.Fatalf("NextDue: %v", err)
	}
	return t, ok
}

// requireNextDue checks NextDue against want; the zero want means none.
func (h *harness) requireNextDue(want time.Time) {
	h.t.Helper()
	got, ok := h.nextDue()
	switch {
	case want.IsZero() && ok:
		h.t.Fatalf("NextDue = %v, true; want false (nothing pending)", got)
	case !want.IsZero() && !ok:
		h.t.Fatalf("NextDue = false, want %v", want)
	case !want.IsZero() && !got.Equal(want):
		h.t.Fatalf("NextDue = %v, want %v", got, want)
	}
}

// requireDelivery fails the test unless Get(want.ID) equals want.
func (h *harness) requireDelivery(want webhook.Delivery) {
	h.t.Helper()
	got := h.get(want.ID)
	if diff := diffDelivery(got, want); diff != "" {
		h.t.Fatalf("Get(%q) differs from what was expected:\n%s", want.ID, diff)
	}
}

// requireAttempts fails the test unless Attempts(id) equals want.
func (h *harness) requireAttempts(id string, want ...webhook.Attempt) {
	h.t.Helper()
	got := h.attempts(id)
	if len(got) != len(want) {
		h.t.Fatalf("Attempts(%q) has %d entries %v, want %d", id, len(got),
			attemptNumbers(got), len(want))
	}
	for i := range want {
		if diff := diffAttempt(got[i], want[i]); diff != "" {
			h.t.Fatalf("Attempts(%q)[%d] differs from what was expected:\n%s", id, i, diff)
		}
	}
}

// requireErrorIs fails the test unless err wraps target.
func requireErrorIs(t *testing.T, err, target error, call string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s returned error %v, want one wrapping %v", call, err, target)
	}
}

// diffDelivery lists the fields in which got and want differ, one per line,
// comparing times with Equal and bytes by content.
func diffDelivery(got, want webhook.Delivery) string {
	var b strings.Builder
	str := func(name, g, w string) {
		if g != w {
			fmt.Fprintf(&b, "\t%s = %q, want %q\n", name, g, w)
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			fmt.Fprintf(&b, "\t%s = %v, want %v\n", name, g, w)
		}
	}
	str("ID", got.ID, want.ID)
	str("IdempotencyKey", got.IdempotencyKey, want.IdempotencyKey)
	str("URL", got.URL, want.URL)
	str("Host", got.Host, want.Host)
	str("EventType", string(got.EventType), string(want.EventType))
	str("ProductionID", got.ProductionID, want.ProductionID)
	if !bytes.Equal(got.Body, want.Body) {
		fmt.Fprintf(&b, "\tBody = %q, want %q\n", got.Body, want.Body)
	}
	str("SecretKey", got.SecretKey, want.SecretKey)
	str("Status", string(got.Status), string(want.Status))
	if got.Attempts != want.Attempts {
		fmt.Fprintf(&b, "\tAttempts = %d, want %d\n", got.Attempts, want.Attempts)
	}
	tm("NextAttemptAt", got.NextAttemptAt, want.NextAttemptAt)
	tm("LeaseUntil", got.LeaseUntil, want.LeaseUntil)
	str("LastError", got.LastError, want.LastError)
	tm("CreatedAt", got.CreatedAt, want.CreatedAt)
	tm("FinishedAt", got.FinishedAt, want.FinishedAt)
	return b.String()
}

// diffAttempt lists the fields in which got and want differ.
func diffAttempt(got, want webhook.Attempt) string {
	var b strings.Builder
	if got.Number != want.Number {
		fmt.Fprintf(&b, "\tNumber = %d, want %d\n", got.Number, want.Number)
	}
	if !got.StartedAt.Equal(want.StartedAt) {
		fmt.Fprintf(&b, "\tStartedAt = %v, want %v\n", got.StartedAt, want.StartedAt)
	}
	if got.Duration != want.Duration {
		fmt.Fprintf(&b, "\tDuration = %v, want %v\n", got.Duration, want.Duration)
	}
	if got.StatusCode != want.StatusCode {
		fmt.Fprintf(&b, "\tStatusCode = %d, want %d\n", got.StatusCode, want.StatusCode)
	}
	if !bytes.Equal(got.ResponseBody, want.ResponseBody) {
		fmt.Fprintf(&b, "\tResponseBody = %q, want %q\n", got.ResponseBody, want.ResponseBody)
	}
	if got.Error != want.Error {
		fmt.Fprintf(&b, "\tError = %q, want %q\n", got.Error, want.Error)
	}
	if got.Interrupted != want.Interrupted {
		fmt.Fprintf(&b, "\tInterrupted = %v, want %v\n", got.Interrupted, want.Interrupted)
	}
	return b.String()
}

func claimIDs(cs []webhook.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}

func deliveryIDs(ds []webhook.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func attemptNumbers(as []webhook.Attempt) []int {
	ns := make([]int, len(as))
	for i, a := range as {
		ns[i] = a.Number
	}
	return ns
}

// finish stores d and takes it to status (delivered or failed) through a
// claim and a recorded first attempt, finished at finishedAt. d is made due
// a day before base, so that no other delivery of the suite is due with it.
func (h *harness) finish(d webhook.Delivery, status webhook.Status, finishedAt time.Time) {
	h.t.Helper()
	d.NextAttemptAt = base.Add(-24 * time.Hour)
	h.insert(d)
	c := h.claimOne(d.NextAttemptAt, d.ID)
	r := webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: finishedAt.Add(-time.Second),
			Duration: time.Second, StatusCode: 200},
		Status:     status,
		FinishedAt: finishedAt,
	}
	if status == webhook.StatusFailed {
		r.Attempt.StatusCode = 410
		r.Attempt.Error = "status 410 Gone"
		r.LastError = "status 410 Gone"
	}
	h.record(c, r)
}

func isNotFound(err error) bool { return errors.Is(err, webhook.ErrNotFound) }
