package storetest

import (
	"slices"
	"time"

	"github.com/stratakit/webhook"
)

var claimCases = []testCase{
	{"EmptyStore", testClaimEmptyStore},
	{"DueDelivery", testClaimDueDelivery},
	{"NotYetDue", testClaimNotYetDue},
	{"HeldNotHandedOutAgain", testClaimHeldNotHandedOutAgain},
	{"DueTimeOrder", testClaimDueTimeOrder},
	{"DueTimeOrderAcrossHosts", testClaimDueTimeOrderAcrossHosts},
	{"RetryKeepsTheDelivery", testClaimRetryKeepsTheDelivery},
	{"Limit", testClaimLimit},
	{"SkipHosts", testClaimSkipHosts},
	{"PerHostCap", testClaimPerHostCap},
	{"FinishedNeverClaimed", testClaimFinishedNeverClaimed},
}

// testClaimEmptyStore claims from a store that holds nothing.
func testClaimEmptyStore(h *harness) {
	h.claimNone(base, request(10))
}

// testClaimDueDelivery claims a due delivery: the attempt is counted, the
// lease runs from now, and the store shows the claim.
func testClaimDueDelivery(h *harness) {
	d := newDelivery(1)
	d.NextAttemptAt = at(-time.Minute)
	h.insert(d)

	c := h.claimOne(base, d.ID)
	want := d
	want.Attempts = 1
	want.LeaseUntil = at(lease)
	if diff := diffDelivery(c.Delivery, want); diff != "" {
		h.t.Fatalf("claimed delivery differs from what was expected:\n%s", diff)
	}
	h.requireDelivery(want)
	h.requireAttempts(d.ID)
}

// testClaimNotYetDue checks that a delivery is claimed from its due time
// on, and not a microsecond before.
func testClaimNotYetDue(h *harness) {
	d := newDelivery(1)
	d.NextAttemptAt = at(10 * time.Second)
	h.insert(d)

	h.claimNone(base, request(10))
	h.claimNone(d.NextAttemptAt.Add(-time.Microsecond), request(10))
	h.requireDelivery(d)
	c := h.claimOne(d.NextAttemptAt, d.ID)
	if c.Delivery.Attempts != 1 {
		h.t.Fatalf("claimed Attempts = %d, want 1", c.Delivery.Attempts)
	}
}

// testClaimHeldNotHandedOutAgain checks that a claimed delivery is not
// claimed again while its lease lives, up to a microsecond before it ends.
func testClaimHeldNotHandedOutAgain(h *harness) {
	h.insertN(1)
	c := h.claimOne(base, id(1))

	h.claimNone(base, request(10))
	h.claimNone(at(lease/2), request(10))
	h.claimNone(at(lease).Add(-time.Microsecond), request(10))
	if got := h.get(id(1)); got.Attempts != 1 || !got.LeaseUntil.Equal(c.Delivery.LeaseUntil) {
		h.t.Fatalf("after claims during the lease: Attempts = %d, LeaseUntil = %v; "+
			"want 1 and %v", got.Attempts, got.LeaseUntil, c.Delivery.LeaseUntil)
	}
}

// testClaimDueTimeOrder checks that Claim takes the earliest due
// deliveries first, whatever the order of insertion.
func testClaimDueTimeOrder(h *harness) {
	due := map[int]time.Duration{ // delivery number: due time after base
		1: 40 * time.Second, 2: 10 * time.Second, 3: 50 * time.Second,
		4: -5 * time.Second, 5: 20 * time.Second, 6: 30 * time.Second,
	}
	for _, n := range []int{3, 1, 6, 4, 2, 5} {
		d := newDelivery(n)
		d.NextAttemptAt = at(due[n])
		h.insert(d)
	}
	now := at(time.Hour)

	// Limit 2 must pick the two earliest, in whatever slice order.
	got := claimIDs(h.claim(now, request(2)))
	slices.Sort(got)
	if want := []string{id(2), id(4)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim(Limit 2) claimed %v, want the two earliest due %v", got, want)
	}

	// One at a time, the rest come in due order.
	for _, n := range []int{5, 6, 1, 3} {
		if got := claimIDs(h.claim(now, request(1))); len(got) != 1 || got[0] != id(n) {
			h.t.Fatalf("Claim(Limit 1) claimed %v, want the earliest due %q", got, id(n))
		}
	}
	h.claimNone(now, request(10))
}

// testClaimDueTimeOrderAcrossHosts checks that due order holds across
// hosts: Claim takes the earliest due deliveries whatever their host.
func testClaimDueTimeOrderAcrossHosts(h *harness) {
	hosts := map[int]string{1: "a.example:443", 2: "b.example:443", 3: "a.example:443",
		4: "c.example:443", 5: "b.example:443", 6: "c.example:443"}
	due := map[int]time.Duration{1: 30 * time.Second, 2: 10 * time.Second,
		3: 20 * time.Second, 4: 50 * time.Second, 5: 40 * time.Second, 6: 5 * time.Second}
	for _, n := range []int{1, 2, 3, 4, 5, 6} {
		d := newDelivery(n)
		d.Host, d.NextAttemptAt = hosts[n], at(due[n])
		h.insert(d)
	}
	now := at(time.Hour)
	for _, n := range []int{6, 2, 3, 1, 5, 4} {
		if got := claimIDs(h.claim(now, request(1))); len(got) != 1 || got[0] != id(n) {
			h.t.Fatalf("Claim(Limit 1) claimed %v, want the earliest due %q on any host",
				got, id(n))
		}
	}
}

// testClaimRetryKeepsTheDelivery checks that a retry's claim hands out the
// whole delivery, body, URL and secret key included, as the first did.
func testClaimRetryKeepsTheDelivery(h *harness) {
	d := newDelivery(1)
	h.insert(d)
	first := h.claimOne(base, d.ID)
	h.record(first, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: base, StatusCode: 503},
		Status:  webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 503",
	})

	retry := h.claimOne(at(time.Second), d.ID)
	want := d
	want.Attempts = 2
	want.NextAttemptAt = at(time.Second)
	want.LeaseUntil = at(time.Second + lease)
	want.LastError = "status 503"
	if diff := diffDelivery(retry.Delivery, want); diff != "" {
		h.t.Fatalf("the retry's claim differs from the delivery:\n%s", diff)
	}
}

// testClaimLimit checks that Claim takes at most Limit deliveries, each
// under its own token.
func testClaimLimit(h *harness) {
	h.insertN(5)

	seen := map[string]bool{}
	tokens := map[string]bool{}
	for _, want := range []int{3, 2, 0} {
		cs := h.claim(base, request(3))
		if len(cs) != want {
			h.t.Fatalf("Claim(Limit 3) claimed %v, want %d deliveries", claimIDs(cs), want)
		}
		for _, c := range cs {
			if seen[c.Delivery.ID] {
				h.t.Fatalf("Claim handed out %q a second time while it was held",
					c.Delivery.ID)
			}
			if c.Token == "" || tokens[c.Token] {
				h.t.Fatalf("Claim gave %q the token %q, empty or already given",
					c.Delivery.ID, c.Token)
			}
			seen[c.Delivery.ID], tokens[c.Token] = true, true
		}
	}
}

// testClaimSkipHosts checks that deliveries to a host in SkipHosts are
// left unclaimed, even when they are the earliest due, and are claimed
// once the host is no longer skipped.
func testClaimSkipHosts(h *harness) {
	for n := 1; n <= 6; n++ {
		d := newDelivery(n)
		if n <= 3 {
			d.URL, d.Host = "https://slow.example.com/hook", "slow.example.com:443"
			d.NextAttemptAt = at(-time.Minute) // due first
		} else {
			d.URL, d.Host = "https://fast.example.com/hook", "fast.example.com:443"
		}
		h.insert(d)
	}

	h.claimNone(base, request(10, "slow.example.com:443", "fast.example.com:443"))

	got := claimIDs(h.claim(base, request(10, "slow.example.com:443", "other.example:443")))
	slices.Sort(got)
	if want := []string{id(4), id(5), id(6)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim skipping slow.example.com:443 claimed %v, want %v", got, want)
	}

	got = claimIDs(h.claim(base, request(10)))
	slices.Sort(got)
	if want := []string{id(1), id(2), id(3)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim skipping no host claimed %v, want %v", got, want)
	}
}

// testClaimFinishedNeverClaimed checks that delivered and failed
// deliveries are never claimed again, however late.
func testClaimFinishedNeverClaimed(h *harness) {
	h.finish(newDelivery(1), webhook.StatusDelivered, base)
	h.finish(newDelivery(2), webhook.StatusFailed, base)

	h.claimNone(at(365*24*time.Hour), request(10))
	h.requireAttempts(id(1), webhook.Attempt{Number: 1, StartedAt: at(-time.Second),
		Duration: time.Second, StatusCode: 200})
}

// testClaimPerHostCap checks that a claim returns at most PerHost
// deliveries of one host, or HostSlots[host] where set, and fills the
// batch from the other hosts, in due order.
func testClaimPerHostCap(h *harness) {
	a, b := "a.example:443", "b.example:443"
	for n := 1; n <= 6; n++ {
		d := newDelivery(n)
		d.Host, d.NextAttemptAt = a, at(time.Duration(n)*time.Second)
		if n > 4 {
			d.Host = b
		}
		h.insert(d)
	}
	now := at(time.Minute)
	claim := func(r webhook.ClaimRequest) []string {
		h.t.Helper()
		got := claimIDs(h.claim(now, r))
		slices.Sort(got)
		return got
	}

	r := request(10)
	r.PerHost, r.HostSlots = 2, map[string]int{a: 1}
	if got, want := claim(r), []string{id(1), id(5), id(6)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim(PerHost 2, HostSlots %v) = %v, want %v", r.HostSlots, got, want)
	}
	r.HostSlots = nil
	if got, want := claim(r), []string{id(2), id(3)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim(PerHost 2) = %v, want %v", got, want)
	}
	r.HostSlots = map[string]int{a: 0}
	h.claimNone(now, r)
	r.PerHost, r.HostSlots = 0, nil
	if got, want := claim(r), []string{id(4)}; !slices.Equal(got, want) {
		h.t.Fatalf("Claim(no cap) = %v, want %v", got, want)
	}
}
