package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
	"github.com/stratakit/webhook/webhooktest"
)

// envEvents overrides how many events the end-to-end tests send.
const envEvents = "WEBHOOK_TEST_PG_EVENTS"

// eventCount is how many events an end-to-end test sends: def unless
// envEvents says otherwise. 5,000 take about 15 s under -race on two cores.
func eventCount(t testing.TB, def int) int {
	t.Helper()
	if v := os.Getenv(envEvents); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, envEvents)
		require.Positive(t, n, envEvents)
		return n
	}
	return def
}

// waitLimit bounds, in real time, the waits of the end-to-end tests for
// work that should finish quickly; it never paces them.
const waitLimit = 5 * time.Minute

// receiver is a loopback webhook endpoint that counts the requests per
// delivery ID and can hold requests until released.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	attempts map[string][]int // webhook-id → X-StrataKit-Delivery values
	requests int
	holdFrom int           // requests from this count on are held; 0 holds none
	held     int           // requests being held now
	release  chan struct{} // closed to let held requests answer
	changed  chan struct{} // closed and replaced on every change
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{
		attempts: make(map[string][]int),
		release:  make(chan struct{}),
		changed:  make(chan struct{}),
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n, _ := strconv.Atoi(req.Header.Get("X-StrataKit-Delivery"))
	r.mu.Lock()
	r.requests++
	r.attempts[req.Header.Get("webhook-id")] = append(
		r.attempts[req.Header.Get("webhook-id")], n)
	hold := r.holdFrom > 0 && r.requests >= r.holdFrom
	if hold {
		r.held++
	}
	r.signal()
	release := r.release
	r.mu.Unlock()

	if hold {
		select {
		case <-release:
		case <-req.Context().Done():
		}
		r.mu.Lock()
		r.held--
		r.signal()
		r.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// signal wakes the waiters; r.mu is held.
func (r *receiver) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// waitHeld waits until n requests are being held.
func (r *receiver) waitHeld(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		held, changed := r.held, r.changed
		r.mu.Unlock()
		if held >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d requests held, want %d", held, n)
		}
	}
}

// outcomes counts the outcomes the Dispatchers record, through
// Config.OnAttempt.
type outcomes struct {
	mu      sync.Mutex
	n       int
	last    map[string]webhook.Delivery
	changed chan struct{}
}

func newOutcomes() *outcomes {
	return &outcomes{last: make(map[string]webhook.Delivery), changed: make(chan struct{})}
}

func (o *outcomes) observe(d webhook.Delivery, _ webhook.Attempt) {
	o.mu.Lock()
	o.n++
	o.last[d.ID] = d
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// wait waits until at least n outcomes have been recorded.
func (o *outcomes) wait(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		o.mu.Lock()
		got, changed := o.n, o.changed
		o.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%d outcomes recorded, want %d", got, n)
		}
	}
}

// delivered counts the deliveries whose last outcome was delivered.
func (o *outcomes) delivered() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, d := range o.last {
		if d.Status == webhook.StatusDelivered {
			n++
		}
	}
	return n
}

// cluster is several Dispatchers sharing one schema, each on its own pool
// and Store as separate processes would be, on one fake clock.
type cluster struct {
	clock    *webhooktest.Clock
	out      *outcomes
	stores   []*pgstore.Store
	pools    []*pgxpool.Pool
	dispatch []*webhook.Dispatcher
}

// clusterOptions varies a cluster.
type clusterOptions struct {
	// wrap, if set, wraps the Store of Dispatcher i.
	wrap func(i int, s webhook.Store) webhook.Store
	// config, if set, changes each Dispatcher's Config.
	config func(c *webhook.Config)
	// memory runs the Dispatchers on one in-memory store instead, for
	// benchmarks to compare.
	memory bool
	// schema, if set, is the schema to share instead of a fresh one.
	schema string
}

// newCluster starts n Dispatchers on a fresh schema.
func newCluster(t testing.TB, n int, co clusterOptions) *cluster {
	t.Helper()
	c := &cluster{clock: webhooktest.NewClock(time.Time{}), out: newOutcomes()}
	var (
		first *pgxpool.Pool
		o     pgstore.Options
		mem   = webhook.NewMemoryStore()
	)
	if !co.memory {
		first = testPool(t, 6)
		o = pgstore.Options{Schema: co.schema}
		if o.Schema == "" {
			o.Schema = testSchema(t, first)
		}
	}
	for i := range n {
		var store webhook.Store = mem
		if !co.memory {
			pool := first
			if i > 0 {
				pool = testPool(t, 6)
			}
			s := openStore(t, pool, o)
			c.pools = append(c.pools, pool)
			c.stores = append(c.stores, s)
			store = s
		}
		if co.wrap != nil {
			store = co.wrap(i, store)
		}
		cfg := webhook.Config{
			Store:     store,
			Clock:     c.clock,
			OnAttempt: c.out.observe,
			AllowHTTP: true,
			Allow:     []string{"127.0.0.0/8"},
			// One receiver is one host: a per-host cap below Workers makes
			// each batch claim more than it may start, and give the rest
			// back (see the package notes).
			Workers:      8,
			PerHostLimit: 8,
		}
		if co.config != nil {
			co.config(&cfg)
		}
		d, err := webhook.New(cfg)
		require.NoError(t, err)
		require.NoError(t, d.Start())
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, d.Stop(ctx))
		})
		c.dispatch = append(c.dispatch, d)
	}
	return c
}

// sendAll sends n events to url, spread over the Dispatchers and over a
// few goroutines, and returns the delivery IDs.
func (c *cluster) sendAll(t testing.TB, url string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make([]error, n)
	const senders = 6
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := g; i < n; i += senders {
				e, err := webhook.Completed(fmt.Sprintf("prod-%06d", i),
					"https://cdn.example.com/v.mp4", c.clock.Now())
				if err != nil {
					errs[i] = err
					continue
				}
				d := c.dispatch[i%len(c.dispatch)]
				ids[i], errs[i] = d.Send(context.Background(), url, e)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, webhook.ErrStopped) {
			require.NoError(t, err, "send %d", i)
		}
	}
	return ids
}

// Three Dispatchers sharing the database deliver every event, each
// attempted exactly once when nothing fails.
func TestDispatchersShareWork(t *testing.T) {
	t.Parallel()
	n := eventCount(t, 5000)
	rcv := newReceiver(t)
	c := newCluster(t, 3, clusterOptions{})

	ids := c.sendAll(t, rcv.url(), n)
	c.out.wait(t, n)

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.Equal(t, n, rcv.requests)
	require.Len(t, rcv.attempts, n)
	for _, id := range ids {
		require.Equal(t, []int{1}, rcv.attempts[id], id)
	}
	require.Equal(t, n, c.out.delivered())
	pending, err := c.stores[0].List(context.Background(),
		webhook.Filter{Status: webhook.StatusPending})
	require.NoError(t, err)
	require.Empty(t, pending)
}

// A webhook sent inside a transaction that rolls back is never sent; one
// committed is sent exactly once, promptly: the fake clock stands still,
// so no poll finds it, and the Dispatchers, idle by then, learn of it from
// the notice that Postgres sends at the commit.
func TestSendTx(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	c := newCluster(t, 2, clusterOptions{})
	ctx := context.Background()
	pool, s, d := c.pools[0], c.stores[0], c.dispatch[0]
	event := func(production string) webhook.Event {
		e, err := webhook.Completed(production, "https://cdn.example.com/v.mp4", c.clock.Now())
		require.NoError(t, err)
		return e
	}

	// Both Dispatchers' loops are running.
	c.clock.WaitTimers(t, 2)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	rolledBack, err := s.SendTx(ctx, tx, d, rcv.url(), event("prod-rolled-back"))
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	committed, err := s.SendTx(ctx, tx, d, rcv.url(), event("prod-committed"),
		webhook.WithIdempotencyKey("render-42"))
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	c.out.wait(t, 1)
	rcv.mu.Lock()
	require.Equal(t, map[string][]int{committed: {1}}, rcv.attempts)
	rcv.mu.Unlock()
	_, err = c.stores[1].Get(ctx, rolledBack)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	got, err := c.stores[1].Get(ctx, committed)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, got.Status)

	// Bad input is refused as Send refuses it, and stores nothing.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = s.SendTx(ctx, tx, d, "ftp://hooks.example.com/in", event("prod-bad-url"))
	require.ErrorIs(t, err, webhook.ErrInvalidURL)
	_, err = s.SendTx(ctx, tx, d, rcv.url(), webhook.Event{Type: webhook.ProductionCompleted})
	require.ErrorIs(t, err, webhook.ErrInvalidEvent)
}
