package webhooktest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// TB is the part of [testing.TB] that the helpers of this package use;
// *testing.T, *testing.B and *testing.F satisfy it. A helper that fails
// calls Fatalf, so it must be called from the goroutine running the test.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// WaitLimit is how long, in real time, a helper of this package waits for
// something that should happen at once (requests arriving, an outcome
// being recorded, the code under test waiting on the fake clock) before it
// fails the test. It is a safety net against a test that would otherwise
// hang, not a pace: the waits return as soon as their condition holds.
const WaitLimit = 10 * time.Second

// broadcast wakes every goroutine waiting for a change of some state kept
// under a caller's mutex. Each change closes the current channel and
// replaces it; a waiter takes the channel under the mutex, checks its
// condition, and on a miss waits for the channel to close.
type broadcast struct {
	ch chan struct{}
}

// wait returns the channel that the next change closes. The caller holds
// the mutex that guards the state.
func (b *broadcast) wait() <-chan struct{} {
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// signal wakes the waiters. The caller holds the mutex that guards the
// state.
func (b *broadcast) signal() {
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// waitUntil blocks until check reports true or ctx is done. check runs
// under mu and returns, with its verdict, the channel of the next change.
func waitUntil(ctx context.Context, mu *sync.Mutex, check func() (bool, <-chan struct{})) error {
	for {
		mu.Lock()
		ok, changed := check()
		mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitLimit is WaitLimit, lowered by this package's own tests of the
// failure path.
var waitLimit atomic.Int64

// limit returns the safety limit of the waits in force.
func limit() time.Duration {
	if d := time.Duration(waitLimit.Load()); d > 0 {
		return d
	}
	return WaitLimit
}

// limitContext returns a context that ends after the safety limit.
func limitContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), limit())
}
