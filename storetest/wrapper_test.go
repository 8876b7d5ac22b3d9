package storetest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/storetest"
)

// countingStore wraps a Store and counts the deliveries inserted through
// it, as a metrics wrapper would.
type countingStore struct {
	webhook.Store
	inserted atomic.Int64
}

func (s *countingStore) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	id, err := s.Store.Insert(ctx, d)
	if err == nil {
		s.inserted.Add(1)
	}
	return id, err
}

// TestCountingStore checks a Store wrapper against the contract, as a user
// would check theirs: newStore is called once per subtest and returns an
// empty store.
func TestCountingStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) webhook.Store {
		return &countingStore{Store: webhook.NewMemoryStore()}
	})
}
