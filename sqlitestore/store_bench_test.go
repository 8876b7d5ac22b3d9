package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratakit/webhook"
)

// benchStores are the stores the benchmarks compare: the in-memory store
// as the baseline, the SQLite store as shipped (synchronous=FULL, group
// commit), and the SQLite store with one transaction per write, to show
// what group commit buys.
var benchStores = []struct {
	name string
	open func(b *testing.B) webhook.Store
}{
	{"memory", func(*testing.B) webhook.Store { return webhook.NewMemoryStore() }},
	{"sqlite", func(b *testing.B) webhook.Store { return openBench(b) }},
	{"sqlite-nobatch", func(b *testing.B) webhook.Store { return openBench(b, WithMaxBatch(1)) }},
}

func openBench(b *testing.B, opts ...Option) webhook.Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

// BenchmarkInsertParallel measures durable Inserts from many goroutines at
// once, as the Dispatcher's Send makes them: each returns only after its
// delivery is committed. It reports inserts/s.
func BenchmarkInsertParallel(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	for _, st := range benchStores {
		for _, goroutines := range []int{procs, 16, 64, 256} {
			if goroutines < procs {
				continue
			}
			name := fmt.Sprintf("store=%s/goroutines=%d", st.name, goroutines)
			b.Run(name, func(b *testing.B) {
				s := st.open(b)
				var seq atomic.Int64
				ctx := context.Background()
				b.SetParallelism(goroutines / procs)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						d := benchDelivery(n)
						if _, err := s.Insert(ctx, d); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
			})
		}
	}
}

// benchDelivery returns the n-th delivery of a benchmark, of a realistic
// size.
func benchDelivery(n int64) webhook.Delivery {
	now := t0.Add(time.Duration(n) * time.Microsecond)
	prod := fmt.Sprintf("550e8400-e29b-41d4-a716-%012d", n)
	return webhook.Delivery{
		ID:           fmt.Sprintf("msg_bench_%010d", n),
		URL:          "https://hooks.example.com/stratakit?tenant=7",
		Host:         "hooks.example.com:443",
		EventType:    webhook.ProductionCompleted,
		ProductionID: prod,
		Body: []byte(`{"event":"production.completed","timestamp":"2026-01-15T10:30:00Z",` +
			`"data":{"production_id":"` + prod + `","status":"completed",` +
			`"output_url":"https://assets.example.com/renders/` + prod +
			`.mp4?X-Amz-Signature=0123456789abcdef","error":null}}`),
		Status:        webhook.StatusPending,
		NextAttemptAt: now,
		CreatedAt:     now,
	}
}
