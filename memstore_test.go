package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) webhook.Store { return webhook.NewMemoryStore() })
}

// memBase is the fixed "now" of the MemoryStore tests.
var memBase = time.Date(2026, time.January, 15, 10, 30, 0, 0, time.UTC)

// memDelivery returns a pending delivery like the Dispatcher builds, with
// a body of about 300 bytes, to host number host.
func memDelivery(n, host int) webhook.Delivery {
	num := strconv.Itoa(n)
	production := "550e8400-e29b-41d4-a716-" + strings.Repeat("0", 12-len(num)) + num
	hostname := "hooks-" + strconv.Itoa(host) + ".example.com"
	body := `{"event":"production.completed","timestamp":"2026-01-15T10:30:00Z",` +
		`"data":{"production_id":"` + production + `","status":"completed","output_url":` +
		`"https://assets.example.com/renders/` + production + `/video.mp4?X-Amz-Signature=` +
		strings.Repeat("0", 64-len(num)) + num + `","error":null}}`
	return webhook.Delivery{
		ID:            "msg_" + strings.Repeat("0", 26-len(num)) + num,
		URL:           "https://" + hostname + "/webhooks/stratakit",
		Host:          hostname + ":443",
		EventType:     webhook.ProductionCompleted,
		ProductionID:  production,
		Body:          []byte(body),
		Status:        webhook.StatusPending,
		NextAttemptAt: memBase,
		CreatedAt:     memBase,
	}
}

func TestMemoryStoreRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := webhook.NewMemoryStore()
	_, err := s.Insert(ctx, memDelivery(1, 1))
	require.NoError(t, err)

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "empty ID", want: "ID: empty", call: func() error {
			d := memDelivery(2, 1)
			d.ID = ""
			_, err := s.Insert(ctx, d)
			return err
		}},
		{name: "duplicate ID", want: "already stored", call: func() error {
			_, err := s.Insert(ctx, memDelivery(1, 1))
			return err
		}},
		{name: "zero Limit", want: "Limit: 0 is below 1", call: func() error {
			_, err := s.Claim(ctx, memBase, webhook.ClaimRequest{Lease: time.Minute})
			return err
		}},
		{name: "zero Lease", want: "Lease: 0s is not positive", call: func() error {
			_, err := s.Claim(ctx, memBase, webhook.ClaimRequest{Limit: 1})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "webhook: "), err.Error())
		})
	}

	// A Record that does not fit the claim is refused and changes nothing.
	cs, err := s.Claim(ctx, memBase, webhook.ClaimRequest{Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	c := cs[0]
	err = s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 2}, Status: webhook.StatusDelivered})
	require.ErrorContains(t, err, "Attempt.Number: 2 is not the claimed attempt 1")
	err = s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1}, Status: "done"})
	require.ErrorContains(t, err, `Status: "done" is not`)
	got, err := s.Get(ctx, c.Delivery.ID)
	require.NoError(t, err)
	require.Equal(t, c.Delivery, got)

	// A token for a delivery that is gone is lost, and not found.
	err = s.Record(ctx, "msg_gone", c.Token, webhook.Result{})
	require.ErrorIs(t, err, webhook.ErrClaimLost)
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// TestMemoryStoreClaimModel runs random operations on a MemoryStore and
// checks every Claim and NextDue against a scan of all deliveries, which
// the store's heaps must agree with.
func TestMemoryStoreClaimModel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	s := webhook.NewMemoryStore()
	const hosts = 7
	host := func(i int) string { return memDelivery(0, i).Host }
	held := map[string]webhook.Claim{}
	now := memBase
	inserted := 0
	var pending []webhook.Delivery // as of the end of the last step

	for step := range 2000 {
		switch op := rng.IntN(10); {
		case op < 3:
			inserted++
			d := memDelivery(inserted, rng.IntN(hosts))
			d.NextAttemptAt = now.Add(time.Duration(rng.IntN(120)-30) * time.Second)
			_, err := s.Insert(ctx, d)
			require.NoError(t, err)

		case op < 6:
			var skip []string
			for i := range hosts {
				if rng.IntN(3) == 0 {
					skip = append(skip, host(i))
				}
			}
			r := webhook.ClaimRequest{Limit: 1 + rng.IntN(4), Lease: 30 * time.Second,
				MaxAttempts: 3, SkipHosts: skip}
			cs, err := s.Claim(ctx, now, r)
			require.NoError(t, err)
			memCheckClaim(t, step, pending, cs, now, r)
			for _, c := range cs {
				held[c.Delivery.ID] = c
			}

		case op < 9 && len(held) > 0:
			ids := make([]string, 0, len(held))
			for id := range held {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			c := held[ids[rng.IntN(len(ids))]]
			delete(held, c.Delivery.ID)
			var err error
			switch rng.IntN(4) {
			case 0:
				err = s.Release(ctx, c.Delivery.ID, c.Token)
			case 1:
				err = s.Extend(ctx, c.Delivery.ID, c.Token,
					now.Add(time.Duration(rng.IntN(90))*time.Second))
				held[c.Delivery.ID] = c
			default:
				r := webhook.Result{Attempt: webhook.Attempt{Number: c.Delivery.Attempts},
					Status:        webhook.StatusPending,
					NextAttemptAt: now.Add(time.Duration(rng.IntN(60)) * time.Second)}
				if rng.IntN(3) == 0 {
					r.Status, r.FinishedAt = webhook.StatusDelivered, now
				}
				err = s.Record(ctx, c.Delivery.ID, c.Token, r)
			}
			if err != nil {
				// Taken over meanwhile; the store must say so.
				require.ErrorIs(t, err, webhook.ErrClaimLost, "step %d", step)
				delete(held, c.Delivery.ID)
			}

		default:
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		}

		if step%100 == 99 {
			memCheckPurge(t, s, now.Add(-time.Minute))
		}

		// NextDue is the earliest available time among pending deliveries.
		pending = memPending(t, s)
		at, ok, err := s.NextDue(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, len(pending) > 0, ok, "step %d", step)
		if ok {
			require.True(t, at.Equal(memAvailable(pending[0])), "step %d: NextDue %v, want %v",
				step, at, memAvailable(pending[0]))
		}
	}
}

// memCheckPurge purges before cutoff and checks that exactly the finished
// deliveries before it went.
func memCheckPurge(t *testing.T, s *webhook.MemoryStore, cutoff time.Time) {
	t.Helper()
	all, err := s.List(t.Context(), webhook.Filter{Limit: 1 << 20})
	require.NoError(t, err)
	var gone, kept []string
	for _, d := range all {
		if d.Status != webhook.StatusPending && d.FinishedAt.Before(cutoff) {
			gone = append(gone, d.ID)
		} else {
			kept = append(kept, d.ID)
		}
	}
	n, err := s.Purge(t.Context(), cutoff)
	require.NoError(t, err)
	require.Equal(t, len(gone), n)
	after, err := s.List(t.Context(), webhook.Filter{Limit: 1 << 20})
	require.NoError(t, err)
	ids := make([]string, len(after))
	for i, d := range after {
		ids[i] = d.ID
	}
	require.Equal(t, kept, ids)
}

// memAvailable is when a pending delivery can next be claimed.
func memAvailable(d webhook.Delivery) time.Time {
	if !d.LeaseUntil.IsZero() {
		return d.LeaseUntil
	}
	return d.NextAttemptAt
}

// memPending returns every pending delivery, earliest available first.
func memPending(t *testing.T, s *webhook.MemoryStore) []webhook.Delivery {
	ds, err := s.List(t.Context(), webhook.Filter{Status: webhook.StatusPending, Limit: 1 << 20})
	require.NoError(t, err)
	slices.SortStableFunc(ds, func(a, b webhook.Delivery) int {
		return memAvailable(a).Compare(memAvailable(b))
	})
	return ds
}

// memCheckClaim checks what Claim took against the pending deliveries
// before it: only due ones on hosts not skipped, each once with the next
// attempt number, and no due delivery left behind that was due earlier
// than one taken, nor at all if fewer than the limit were taken. A held
// delivery on its last attempt may have been finished as failed instead.
func memCheckClaim(t *testing.T, step int, before []webhook.Delivery, cs []webhook.Claim,
	now time.Time, r webhook.ClaimRequest) {
	t.Helper()
	eligible := map[string]webhook.Delivery{}
	for _, d := range before {
		if !slices.Contains(r.SkipHosts, d.Host) && !memAvailable(d).After(now) {
			eligible[d.ID] = d
		}
	}
	require.LessOrEqual(t, len(cs), r.Limit, "step %d", step)
	taken := map[string]bool{}
	var latest time.Time
	for _, c := range cs {
		d, ok := eligible[c.Delivery.ID]
		require.True(t, ok, "step %d: claimed %s, which was not eligible", step, c.Delivery.ID)
		require.False(t, taken[d.ID], "step %d: %s claimed twice in one call", step, d.ID)
		taken[d.ID] = true
		require.Equal(t, d.Attempts+1, c.Delivery.Attempts, "step %d", step)
		if memAvailable(d).After(latest) {
			latest = memAvailable(d)
		}
	}
	for id, d := range eligible {
		if taken[id] || !d.LeaseUntil.IsZero() && d.Attempts >= r.MaxAttempts {
			continue
		}
		require.Len(t, cs, r.Limit,
			"step %d: %s was due and left unclaimed with room to spare", step, id)
		require.False(t, memAvailable(d).Before(latest),
			"step %d: %s was due at %v, before a claimed one due at %v", step, id,
			memAvailable(d), latest)
	}
}

// TestMemoryStoreFootprint measures the heap taken by 100,000 deliveries
// waiting for a retry, each with a body of about 300 bytes and one failed
// attempt in its log, spread over 1,000 hosts.
func TestMemoryStoreFootprint(t *testing.T) {
	const n = 100_000
	ctx := t.Context()
	before := memHeap()

	s := webhook.NewMemoryStore()
	for i := range n {
		_, err := s.Insert(ctx, memDelivery(i, i%1000))
		require.NoError(t, err)
	}
	inserted := memHeap()

	r := webhook.ClaimRequest{Limit: 1000, Lease: time.Minute, MaxAttempts: 6}
	for done := 0; done < n; {
		cs, err := s.Claim(ctx, memBase, r)
		require.NoError(t, err)
		require.NotEmpty(t, cs)
		for _, c := range cs {
			err := s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
				Attempt: webhook.Attempt{Number: 1, StartedAt: memBase,
					Duration: 30 * time.Second, StatusCode: 503,
					ResponseBody: []byte(`{"error":"service unavailable"}`),
					Error:        "status 503 Service Unavailable"},
				Status: webhook.StatusPending, NextAttemptAt: memBase.Add(time.Second),
				LastError: "status 503 Service Unavailable",
			})
			require.NoError(t, err)
		}
		done += len(cs)
	}
	waiting := memHeap()
	runtime.KeepAlive(s)

	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("100,000 pending deliveries: %.1f MiB after Insert, %.1f MiB waiting for a retry "+
		"(%d bytes each)", mib(inserted-before), mib(waiting-before), (waiting-before)/n)
	require.Less(t, waiting-before, uint64(256<<20), "well under 1 GiB")

	at, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, memBase.Add(time.Second), at)
}

// memHeap returns the live heap after a collection.
func memHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// memFill returns a store holding n deliveries due in an hour, over 1,000
// hosts.
func memFill(b *testing.B, n int) *webhook.MemoryStore {
	s := webhook.NewMemoryStore()
	for i := range n {
		d := memDelivery(i, i%1000)
		d.NextAttemptAt = memBase.Add(time.Hour)
		if _, err := s.Insert(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkMemoryStoreInsert inserts into an empty store and into one
// already holding 100,000 deliveries waiting for their due time.
func BenchmarkMemoryStoreInsert(b *testing.B) {
	for _, existing := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			s := memFill(b, existing)
			ds := make([]webhook.Delivery, 0, 1024)
			for i := range cap(ds) {
				ds = append(ds, memDelivery(0, i%1000))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				d := ds[i%len(ds)]
				d.ID = fmt.Sprintf("msg_bench_%d", i)
				if _, err := s.Insert(context.Background(), d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryStoreClaim claims and records one due delivery while the
// store holds 0 or 100,000 others not yet due, and while 100,000 due
// deliveries sit on a host that every Claim skips.
func BenchmarkMemoryStoreClaim(b *testing.B) {
	cases := []struct {
		name     string
		existing int
		skipped  bool
	}{
		{name: "waiting=0", existing: 0},
		{name: "waiting=100000", existing: 100_000},
		{name: "skipped=100000", existing: 100_000, skipped: true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			s := webhook.NewMemoryStore()
			for i := range c.existing {
				d := memDelivery(i, 1)
				if !c.skipped {
					d.Host = memDelivery(i, i%1000).Host
					d.NextAttemptAt = memBase.Add(time.Hour)
				}
				if _, err := s.Insert(ctx, d); err != nil {
					b.Fatal(err)
				}
			}
			d := memDelivery(c.existing+1, 2000)
			if _, err := s.Insert(ctx, d); err != nil {
				b.Fatal(err)
			}
			r := webhook.ClaimRequest{Limit: 1, Lease: time.Minute, MaxAttempts: 1 << 30,
				SkipHosts: []string{memDelivery(0, 1).Host}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				cs, err := s.Claim(ctx, memBase, r)
				if err != nil || len(cs) != 1 {
					b.Fatalf("Claim = %v, %v", len(cs), err)
				}
				err = s.Record(ctx, d.ID, cs[0].Token, webhook.Result{
					Attempt: webhook.Attempt{Number: i + 1}, Status: webhook.StatusPending,
					NextAttemptAt: memBase})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A delivery's life in a Store: claimed, retried after a failure, then
// taken over when its holder stops without recording an outcome.
func ExampleMemoryStore() {
	ctx := context.Background()
	now := time.Date(2026, time.January, 15, 10, 30, 0, 0, time.UTC)
	s := webhook.NewMemoryStore()
	id, _ := s.Insert(ctx, webhook.Delivery{
		ID: "msg_example", URL: "https://hooks.example.com/stratakit",
		Host: "hooks.example.com:443", EventType: webhook.ProductionCompleted,
		ProductionID: "prod-1", Body: []byte(`{"event":"production.completed"}`),
		Status: webhook.StatusPending, NextAttemptAt: now, CreatedAt: now,
	})
	r := webhook.ClaimRequest{Limit: 10, Lease: time.Minute, MaxAttempts: 6}

	cs, _ := s.Claim(ctx, now, r)
	fmt.Println("claimed attempt", cs[0].Delivery.Attempts)
	_ = s.Record(ctx, id, cs[0].Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: now, StatusCode: 503,
			Error: "status 503"},
		Status: webhook.StatusPending, NextAttemptAt: now.Add(time.Second),
		LastError: "status 503",
	})
	due, _, _ := s.NextDue(ctx, nil)
	fmt.Println("next attempt in", due.Sub(now))

	// Attempt 2 is claimed, and its holder stops without an outcome.
	lost, _ := s.Claim(ctx, due, r)
	cs, _ = s.Claim(ctx, lost[0].Delivery.LeaseUntil, r)
	fmt.Println("taken over for attempt", cs[0].Delivery.Attempts)
	err := s.Record(ctx, id, lost[0].Token, webhook.Result{})
	fmt.Println("old holder:", errors.Is(err, webhook.ErrClaimLost))
	log, _ := s.Attempts(ctx, id)
	for _, a := range log {
		fmt.Printf("attempt %d: status %d, interrupted %v\n", a.Number, a.StatusCode,
			a.Interrupted)
	}
	// Output:
	// claimed attempt 1
	// next attempt in 1s
	// taken over for attempt 3
	// old holder: true
	// attempt 1: status 503, interrupted false
	// attempt 2: status 0, interrupted true
}
