package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
)

// BenchmarkInsert measures committed inserts, each its own transaction
// with its NOTIFY, from GOMAXPROCS*4 goroutines.
func BenchmarkInsert(b *testing.B) {
	for _, listen := range []bool{true, false} {
		b.Run(fmt.Sprintf("listen=%v", listen), func(b *testing.B) {
			pool := testPool(b, 16)
			o := pgstore.Options{Schema: testSchema(b, pool), DisableListen: !listen}
			s := openStore(b, pool, o)
			var seq atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, err := s.Insert(context.Background(),
						newDelivery(int(seq.Add(1)), t0))
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}

// BenchmarkClaimRecord measures the store's share of one attempt: a claim
// in batches of batch, then one Record per delivery, from one goroutine.
func BenchmarkClaimRecord(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			pool := testPool(b, 4)
			o := pgstore.Options{Schema: testSchema(b, pool), DisableListen: true}
			s := openStore(b, pool, o)
			ctx := context.Background()
			fill(b, pool, o, s, b.N, t0, "")
			r := request(batch)
			b.ResetTimer()
			done := 0
			for done < b.N {
				claims, err := s.Claim(ctx, t0, r)
				require.NoError(b, err)
				require.NotEmpty(b, claims)
				for _, c := range claims {
					err := s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
						Attempt: webhook.Attempt{Number: 1, StartedAt: t0,
							Duration: time.Millisecond, StatusCode: 204},
						Status: webhook.StatusDelivered, FinishedAt: t0,
					})
					require.NoError(b, err)
				}
				done += len(claims)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// fill inserts n deliveries due at due to url in one transaction, then
// gathers statistics as autovacuum would: the claim's plan depends on
// them, and the test server may run without autovacuum.
func fill(b *testing.B, pool *pgxpool.Pool, o pgstore.Options, s *pgstore.Store, n int,
	due time.Time, url string) {
	b.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(b, err)
	for i := range n {
		d := newDelivery(i, due)
		if url != "" {
			d.URL, d.Host = url, strings.TrimPrefix(url[:strings.LastIndex(url, "/")], "http://")
		}
		_, err := s.InsertTx(ctx, tx, d)
		require.NoError(b, err)
	}
	require.NoError(b, tx.Commit(ctx))
	_, err = pool.Exec(ctx, "ANALYZE "+
		pgx.Identifier{o.Schema, pgstore.DefaultTablePrefix + "deliveries"}.Sanitize())
	require.NoError(b, err)
}

// BenchmarkEndToEnd measures deliveries per second from Send to the
// recorded outcome, to a loopback receiver that answers 204 at once: b.N
// events sent from six goroutines over the Dispatchers, timed until every
// outcome is recorded. The in-memory store runs beside for comparison.
// Run it with a fixed count, such as -benchtime=5000x.
func BenchmarkEndToEnd(b *testing.B) {
	cases := []struct {
		name        string
		dispatchers int
		co          clusterOptions
	}{
		{"store=memory/dispatchers=1", 1, clusterOptions{memory: true}},
		{"store=postgres/dispatchers=1", 1, clusterOptions{}},
		{"store=postgres/dispatchers=3", 3, clusterOptions{}},
		// The Config defaults, Workers 16 and PerHostLimit 4, with one
		// receiving host.
		{"store=postgres/dispatchers=3/defaults", 3, clusterOptions{
			config: func(c *webhook.Config) { c.Workers, c.PerHostLimit = 0, 0 }}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			rcv := newReceiver(b)
			var cs claimStats
			if !bc.co.memory {
				bc.co.wrap = cs.wrap
			}
			c := newCluster(b, bc.dispatchers, bc.co)
			b.ResetTimer()
			c.sendAll(b, rcv.url(), b.N)
			c.out.wait(b, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			cs.report(b)
		})
	}
}

// BenchmarkDrain measures the delivery pipeline alone: b.N deliveries
// already pending, committed in one transaction, are delivered by the
// Dispatchers; timed from Start to the last outcome.
func BenchmarkDrain(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("dispatchers=%d", n), func(b *testing.B) {
			rcv := newReceiver(b)
			pool := testPool(b, 4)
			o := pgstore.Options{Schema: testSchema(b, pool), DisableListen: true}
			s := openStore(b, pool, o)
			// Due before the fake clock's start.
			fill(b, pool, o, s, b.N, time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
				rcv.url())

			var cs claimStats
			b.ResetTimer()
			c := newCluster(b, n, clusterOptions{schema: o.Schema, wrap: cs.wrap})
			c.out.wait(b, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			cs.report(b)
		})
	}
}

// claimStats counts the Claim calls of the Dispatchers, to show how well
// claims are batched.
type claimStats struct {
	calls, empty, claimed, released atomic.Int64
}

// wrap counts the claims made through a pgstore.Store; the Store stays
// embedded, so the Dispatcher still finds its Wake method.
func (cs *claimStats) wrap(_ int, s webhook.Store) webhook.Store {
	return &countingStore{Store: s.(*pgstore.Store), stats: cs}
}

// report adds the claim figures to the benchmark's: claims and releases
// per delivery, and the share of claims that found nothing.
func (cs *claimStats) report(b *testing.B) {
	calls := float64(cs.calls.Load())
	b.ReportMetric(calls/float64(b.N), "claims/delivery")
	b.ReportMetric(float64(cs.released.Load())/float64(b.N), "releases/delivery")
	if calls > 0 {
		b.ReportMetric(float64(cs.empty.Load())/calls, "empty/claim")
	}
}

type countingStore struct {
	*pgstore.Store
	stats *claimStats
}

func (c *countingStore) Claim(ctx context.Context, now time.Time, r webhook.ClaimRequest) (
	[]webhook.Claim, error) {
	claims, err := c.Store.Claim(ctx, now, r)
	c.stats.calls.Add(1)
	c.stats.claimed.Add(int64(len(claims)))
	if len(claims) == 0 {
		c.stats.empty.Add(1)
	}
	return claims, err
}

func (c *countingStore) Release(ctx context.Context, id, token string) error {
	c.stats.released.Add(1)
	return c.Store.Release(ctx, id, token)
}
