package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stretchr/testify/require"
)

// t0 is the tests' fake now, with nanoseconds to check precision.
var t0 = time.Date(2026, 1, 15, 10, 30, 0, 123456789, time.UTC)

// openTemp opens a store in a new file in t's temporary directory and
// closes it when the test ends. It returns the file's path too.
func openTemp(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	s, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s, path
}

// newDelivery returns a pending delivery due at due.
func newDelivery(id string, due time.Time) webhook.Delivery {
	return webhook.Delivery{
		ID:            id,
		URL:           "https://example.com/hooks?token=x",
		Host:          "example.com:443",
		EventType:     webhook.ProductionCompleted,
		ProductionID:  "prod-" + id,
		Body:          []byte(`{"event":"production.completed","id":"` + id + `"}`),
		Status:        webhook.StatusPending,
		NextAttemptAt: due,
		CreatedAt:     due,
	}
}

// insertN inserts n deliveries d0..d(n-1), due one second apart from t0.
func insertN(t *testing.T, s *Store, n int) []webhook.Delivery {
	t.Helper()
	var out []webhook.Delivery
	for i := range n {
		d := newDelivery(fmt.Sprintf("d%d", i), t0.Add(time.Duration(i)*time.Second))
		_, err := s.Insert(context.Background(), d)
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}

// claimOne claims the one due delivery at now.
func claimOne(t *testing.T, s *Store, now time.Time, maxAttempts int) webhook.Claim {
	t.Helper()
	cs, err := s.Claim(context.Background(), now,
		webhook.ClaimRequest{Limit: 1, Lease: time.Minute, MaxAttempts: maxAttempts})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	return cs[0]
}
