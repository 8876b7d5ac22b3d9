package pgstore_test

import (
	"testing"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
	"github.com/stratakit/webhook/storetest"
)

// The conformance suite, each subtest on a schema of its own.
func TestStoreConformance(t *testing.T) {
	t.Parallel()
	pool := testPool(t, 10)
	storetest.Run(t, func(t *testing.T) webhook.Store {
		return openStore(t, pool, pgstore.Options{Schema: testSchema(t, pool)})
	})
}
