package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
	"github.com/stratakit/webhook/sqlitestore"
)

// A storeKind opens a fresh, empty store; shared returns another Store on
// the same data, for a second or third Dispatcher.
type storeKind struct {
	name string
	open func(b *testing.B) (first webhook.Store, shared func() webhook.Store)
}

var kinds = []storeKind{
	{"memory", func(b *testing.B) (webhook.Store, func() webhook.Store) {
		s := webhook.NewMemoryStore()
		return s, func() webhook.Store { return s }
	}},
	{"sqlite", func(b *testing.B) (webhook.Store, func() webhook.Store) {
		s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, func() webhook.Store { return s }
	}},
	{"postgres", openPostgres},
}

// openPostgres opens a store in a schema of its own, dropped afterwards.
func openPostgres(b *testing.B) (webhook.Store, func() webhook.Store) {
	url := os.Getenv("WEBHOOK_TEST_POSTGRES")
	if url == "" {
		b.Skip("set WEBHOOK_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable " +
			"to run the Postgres benchmarks")
	}
	ctx := context.Background()
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	schema := "bench_" + hex.EncodeToString(raw[:])
	open := func() webhook.Store {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			b.Fatal(err)
		}
		// Room for the senders, the workers and the loop of one Dispatcher;
		// pgxpool's default of max(4, CPUs) would make them queue.
		cfg.MaxConns = 24
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		s, err := pgstore.Open(ctx, pool, pgstore.Options{Schema: schema})
		if err != nil {
			pool.Close()
			b.Fatal(err)
		}
		b.Cleanup(func() {
			s.Close()
			pool.Close()
		})
		return s
	}
	first := open()
	b.Cleanup(func() {
		pool, err := pgxpool.New(ctx, url)
		if err == nil {
			_, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			pool.Close()
		}
	})
	return first, open
}

func event(b *testing.B, i int) webhook.Event {
	e, err := webhook.Completed("prod-"+strconv.Itoa(i),
		"https://assets.stratakit.io/v/"+strconv.Itoa(i)+".mp4?X-Amz-Signature=abc", time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func newDispatcher(b *testing.B, store webhook.Store, onAttempt func(webhook.Delivery, webhook.Attempt)) *webhook.Dispatcher {
	d, err := webhook.New(webhook.Config{
		Store:        store,
		AllowHTTP:    true,
		Allow:        []string{"127.0.0.1"},
		Workers:      32,
		PerHostLimit: 32,
		OnAttempt:    onAttempt,
	})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkSend measures durable Send calls from many goroutines: each
// returns once its delivery is committed. No Dispatcher runs, so the
// figure is the store's insert path plus validation.
func BenchmarkSend(b *testing.B) {
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			store, _ := k.open(b)
			d := newDispatcher(b, store, nil)
			defer d.Stop(context.Background())
			e := event(b, 1)
			var n atomic.Int64
			b.SetParallelism(32) // 64 goroutines on two cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := d.Send(ctx, "http://127.0.0.1:9/hook", e); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "sends/s")
		})
	}
}

// BenchmarkDeliver measures end-to-end deliveries: b.N webhooks sent to a
// local receiver that answers 200, until every outcome is recorded.
func BenchmarkDeliver(b *testing.B) {
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()

	cases := []struct {
		kind        storeKind
		dispatchers int
	}{
		{kinds[0], 1}, {kinds[1], 1}, {kinds[2], 1}, {kinds[2], 3},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s-%d", c.kind.name, c.dispatchers), func(b *testing.B) {
			store, shared := c.kind.open(b)
			var delivered atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			onAttempt := func(d webhook.Delivery, a webhook.Attempt) {
				if d.Status == webhook.StatusDelivered && delivered.Add(1) == target {
					close(done)
				}
			}
			ds := []*webhook.Dispatcher{newDispatcher(b, store, onAttempt)}
			for len(ds) < c.dispatchers {
				ds = append(ds, newDispatcher(b, shared(), onAttempt))
			}
			e := event(b, 2)
			b.ResetTimer()
			for _, d := range ds {
				if err := d.Start(); err != nil {
					b.Fatal(err)
				}
			}
			// Sixteen goroutines send, as a render service's jobs would.
			ctx := context.Background()
			var next atomic.Int64
			var senders sync.WaitGroup
			for range 16 {
				senders.Go(func() {
					for i := next.Add(1) - 1; i < target; i = next.Add(1) - 1 {
						if _, err := ds[i%int64(len(ds))].Send(ctx, recv.URL+"/hook", e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			senders.Wait()
			select {
			case <-done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d delivered", delivered.Load(), b.N)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			for _, d := range ds {
				if err := d.Stop(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
