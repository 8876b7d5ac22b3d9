package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/stratakit/webhook"
)

var concurrencyCases = []testCase{
	{"ClaimAndRecord", testConcurrentClaimAndRecord},
}

// Sizes of the concurrency subtest: small enough for a database under the
// race detector.
const (
	concurrentWorkers    = 8
	concurrentDeliveries = 200
)

// testConcurrentClaimAndRecord runs eight goroutines that insert, claim and
// record at once, while another reads, and checks that every delivery was
// attempted exactly once per attempt number.
//
// In round one each worker inserts its share and then claims at base,
// recording a retry due a second later, until Claim returns nothing: a
// delivery it does not get is then held by another worker, since nothing
// falls due again at base. In round two the workers claim at base+1s and
// record success.
func testConcurrentClaimAndRecord(h *harness) {
	var (
		mu     sync.Mutex
		claims = map[string][]int{} // delivery ID: attempt numbers claimed
	)
	round := func(now time.Time, insert bool, result func(webhook.Claim) webhook.Result) {
		var wg sync.WaitGroup
		for w := range concurrentWorkers {
			wg.Go(func() {
				if err := concurrentWorker(h, w, now, insert, result, func(c webhook.Claim) {
					mu.Lock()
					defer mu.Unlock()
					claims[c.Delivery.ID] = append(claims[c.Delivery.ID], c.Delivery.Attempts)
				}); err != nil {
					h.t.Error(err)
				}
			})
		}
		if insert {
			wg.Go(func() { concurrentReader(h) })
		}
		wg.Wait()
		if h.t.Failed() {
			h.t.FailNow()
		}
	}

	round(base, true, func(c webhook.Claim) webhook.Result {
		return webhook.Result{
			Attempt: webhook.Attempt{Number: c.Delivery.Attempts, StartedAt: base,
				Duration: time.Millisecond, StatusCode: 500, Error: "status 500"},
			Status: webhook.StatusPending, NextAttemptAt: at(time.Second), LastError: "status 500",
		}
	})
	h.requireNextDue(at(time.Second))
	round(at(time.Second), false, func(c webhook.Claim) webhook.Result {
		return webhook.Result{
			Attempt: webhook.Attempt{Number: c.Delivery.Attempts, StartedAt: at(time.Second),
				Duration: time.Millisecond, StatusCode: 200},
			Status: webhook.StatusDelivered, FinishedAt: at(2 * time.Second),
		}
	})

	if len(claims) != concurrentDeliveries {
		h.t.Fatalf("%d deliveries were claimed, want %d", len(claims), concurrentDeliveries)
	}
	for id, numbers := range claims {
		if len(numbers) != 2 || numbers[0] != 1 || numbers[1] != 2 {
			h.t.Fatalf("delivery %q was claimed for attempts %v, want [1 2]", id, numbers)
		}
	}
	ds := h.list(webhook.Filter{Status: webhook.StatusDelivered, Limit: 2 * concurrentDeliveries})
	if len(ds) != concurrentDeliveries {
		h.t.Fatalf("%d deliveries are delivered, want %d", len(ds), concurrentDeliveries)
	}
	for _, d := range ds {
		if d.Attempts != 2 {
			h.t.Fatalf("delivery %q has Attempts %d, want 2", d.ID, d.Attempts)
		}
		if log := h.attempts(d.ID); len(log) != 2 || log[0].Number != 1 || log[1].Number != 2 {
			h.t.Fatalf("Attempts(%q) = %v, want [1 2]", d.ID, attemptNumbers(log))
		}
	}
	h.requireNextDue(time.Time{})
}

// concurrentWorker optionally inserts worker w's share of the deliveries,
// then claims at now three at a time and records result for each claim
// until Claim returns nothing. It reports each claim to seen.
func concurrentWorker(h *harness, w int, now time.Time, insert bool,
	result func(webhook.Claim) webhook.Result, seen func(webhook.Claim)) error {
	if insert {
		for n := w + 1; n <= concurrentDeliveries; n += concurrentWorkers {
			d := newDelivery(n)
			if _, err := h.s.Insert(h.ctx, d); err != nil {
				return fmt.Errorf("worker %d: Insert(%q): %w", w, d.ID, err)
			}
		}
	}
	for {
		cs, err := h.s.Claim(h.ctx, now, request(3))
		if err != nil {
			return fmt.Errorf("worker %d: Claim: %w", w, err)
		}
		if len(cs) == 0 {
			return nil
		}
		for _, c := range cs {
			seen(c)
			err := h.s.Record(h.ctx, c.Delivery.ID, c.Token, result(c))
			if err != nil {
				return fmt.Errorf("worker %d: Record(%q, attempt %d): %w", w, c.Delivery.ID,
					c.Delivery.Attempts, err)
			}
		}
	}
}

// concurrentReader reads while the workers write, for the race detector.
func concurrentReader(h *harness) {
	for i := 1; i <= 20; i++ {
		if _, _, err := h.s.NextDue(h.ctx, nil); err != nil {
			h.t.Errorf("reader: NextDue: %v", err)
			return
		}
		if _, err := h.s.List(h.ctx, webhook.Filter{Status: webhook.StatusPending}); err != nil {
			h.t.Errorf("reader: List: %v", err)
			return
		}
		// The delivery may not be inserted yet: only other errors count.
		if _, err := h.s.Attempts(h.ctx, id(i)); err != nil && !isNotFound(err) {
			h.t.Errorf("reader: Attempts(%q): %v", id(i), err)
			return
		}
	}
}
