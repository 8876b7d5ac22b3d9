package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
)

// errCrashed is what a crashed process's store calls return.
var errCrashed = errors.New("process crashed")

// crashable wraps the Store of a Dispatcher whose process is about to die:
// once crashed, it reaches the database no more, so the claims it holds
// stay as a killed process leaves them. It tracks those claims.
type crashable struct {
	webhook.Store
	waker webhook.Waker

	mu      sync.Mutex
	crashed bool
	held    map[string]bool // claimed and not yet recorded or released
}

func (c *crashable) Wake() <-chan struct{} { return c.waker.Wake() }

func (c *crashable) dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

func (c *crashable) crash() {
	c.mu.Lock()
	c.crashed = true
	c.mu.Unlock()
}

func (c *crashable) Claim(ctx context.Context, now time.Time, r webhook.ClaimRequest) (
	[]webhook.Claim, error) {
	if c.dead() {
		return nil, errCrashed
	}
	claims, err := c.Store.Claim(ctx, now, r)
	c.mu.Lock()
	for _, cl := range claims {
		c.held[cl.Delivery.ID] = true
	}
	c.mu.Unlock()
	return claims, err
}

func (c *crashable) Extend(ctx context.Context, id, token string, until time.Time) error {
	if c.dead() {
		return errCrashed
	}
	return c.Store.Extend(ctx, id, token, until)
}

func (c *crashable) Release(ctx context.Context, id, token string) error {
	if c.dead() {
		return errCrashed
	}
	err := c.Store.Release(ctx, id, token)
	c.done(id, err)
	return err
}

func (c *crashable) Record(ctx context.Context, id, token string, r webhook.Result) error {
	if c.dead() {
		return errCrashed
	}
	err := c.Store.Record(ctx, id, token, r)
	c.done(id, err)
	return err
}

// done forgets a claim the database no longer holds.
func (c *crashable) done(id string, err error) {
	if err == nil || errors.Is(err, webhook.ErrClaimLost) {
		c.mu.Lock()
		delete(c.held, id)
		c.mu.Unlock()
	}
}

// One of three Dispatchers dies in the middle, with attempts in flight and
// claims held. The others deliver everything else at once, and its claimed
// deliveries once their lease has expired on the fake clock: none is lost,
// and only a delivery that was in flight at the crash reaches the receiver
// twice.
func TestDispatcherCrashTakeover(t *testing.T) {
	t.Parallel()
	n := eventCount(t, 5000)
	rcv := newReceiver(t)
	rcv.holdFrom = n / 2
	var victim *crashable
	c := newCluster(t, 3, clusterOptions{wrap: func(i int, s webhook.Store) webhook.Store {
		if i > 0 {
			return s
		}
		victim = &crashable{Store: s, waker: s.(webhook.Waker), held: make(map[string]bool)}
		return victim
	}})
	ids := c.sendAll(t, rcv.url(), n)

	// Halfway, the receiver holds every request, until each of the three
	// has all its workers in flight; then the first one dies.
	rcv.waitHeld(t, 3*8)
	victim.crash()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, c.dispatch[0].StopAndCancel(ctx))
	victim.mu.Lock()
	held := maps(victim.held)
	victim.mu.Unlock()
	require.GreaterOrEqual(t, len(held), 8, "the dead one held its in-flight claims")

	// The others deliver the rest, but not the dead one's claims, whose
	// lease has not expired.
	rcv.mu.Lock()
	rcv.holdFrom = 0
	close(rcv.release)
	rcv.mu.Unlock()
	c.out.wait(t, n-len(held))
	for _, id := range held {
		d, err := c.stores[1].Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, webhook.StatusPending, d.Status, id)
	}

	// Once the lease runs out, they take the claims over.
	c.clock.Advance(webhook.DefaultLease)
	c.out.wait(t, n)
	require.Equal(t, n, c.out.delivered())

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, id := range ids {
		got := rcv.attempts[id]
		require.NotEmpty(t, got, id)
		require.True(t, slices.IsSorted(got) && !hasRepeat(got), "%s: attempts %v", id, got)
		if len(got) > 1 {
			require.Contains(t, held, id, "a duplicate of an attempt not in flight")
		}
	}
	for _, id := range held {
		log, err := c.stores[1].Attempts(ctx, id)
		require.NoError(t, err)
		require.Len(t, log, 2, id)
		require.True(t, log[0].Interrupted, id)
		require.Equal(t, 2, log[1].Number, id)
		require.Equal(t, 204, log[1].StatusCode, id)
	}
}

// maps returns the keys of m.
func maps(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hasRepeat reports whether a sorted slice repeats a value.
func hasRepeat(s []int) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return true
		}
	}
	return false
}
