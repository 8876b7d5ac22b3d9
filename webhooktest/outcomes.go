package webhooktest

import (
	"sync"

	"github.com/stratakit/webhook"
)

// Outcome is one attempt's outcome as a Dispatcher reported it to
// [webhook.Config.OnAttempt]: the delivery as it stood once the outcome was
// recorded in the Store, and the attempt's log entry.
type Outcome struct {
	Delivery webhook.Delivery
	Attempt  webhook.Attempt
}

// Outcomes collects the outcomes a Dispatcher reports, so that a test can
// wait until an attempt's outcome is recorded before it looks at the Store
// or advances a fake clock. Set its Observe method as
// [webhook.Config.OnAttempt]. The zero value is ready to use; it is safe for
// concurrent use.
type Outcomes struct {
	mu       sync.Mutex
	outcomes []Outcome
	changed  broadcast
}

// Observe records an outcome. Its signature is that of
// [webhook.Config.OnAttempt]; it never blocks for long.
func (o *Outcomes) Observe(d webhook.Delivery, a webhook.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, Outcome{Delivery: d, Attempt: a})
	o.changed.signal()
}

// All returns the outcomes observed so far, in the order they were
// reported.
func (o *Outcomes) All() []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.outcomes...)
}

// Wait blocks until at least n outcomes have been observed and returns the
// first n, in the order they were reported. It fails the test if that
// takes longer than [WaitLimit] of real time. Call it from the goroutine
// running the test.
func (o *Outcomes) Wait(tb TB, n int) []Outcome {
	tb.Helper()
	got := 0
	ok := o.wait(func() bool {
		got = len(o.outcomes)
		return got >= n
	})
	if !ok {
		tb.Fatalf("webhooktest: waited %v for %d outcomes, %d observed", limit(), n, got)
		return nil
	}
	return o.All()[:max(n, 0)]
}

// WaitFor blocks until an outcome for which match returns true has been
// observed, and returns the first such outcome. match runs under the
// Outcomes' lock and must not call its methods. WaitFor fails the test if
// no outcome matches within [WaitLimit] of real time.
func (o *Outcomes) WaitFor(tb TB, match func(Outcome) bool) Outcome {
	tb.Helper()
	var found Outcome
	checked := 0
	ok := o.wait(func() bool {
		for ; checked < len(o.outcomes); checked++ {
			if match(o.outcomes[checked]) {
				found = o.outcomes[checked]
				return true
			}
		}
		return false
	})
	if !ok {
		tb.Fatalf("webhooktest: waited %v for a matching outcome, none of %d matched",
			limit(), checked)
	}
	return found
}

// WaitFinal blocks until the delivery with the given ID has been delivered
// or has failed, and returns the outcome of its last attempt. It fails the
// test if that takes longer than [WaitLimit] of real time; with a fake
// clock, the test must advance it for retries to happen.
func (o *Outcomes) WaitFinal(tb TB, id string) Outcome {
	tb.Helper()
	return o.WaitFor(tb, func(out Outcome) bool {
		return out.Delivery.ID == id && out.Delivery.Status != webhook.StatusPending
	})
}

// wait blocks until check, run under o.mu, reports true, or the safety
// limit ends, and reports whether check did.
func (o *Outcomes) wait(check func() bool) bool {
	ctx, cancel := limitContext()
	defer cancel()
	err := waitUntil(ctx, &o.mu, func() (bool, <-chan struct{}) {
		return check(), o.changed.wait()
	})
	return err == nil
}
