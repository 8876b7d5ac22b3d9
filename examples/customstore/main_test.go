package main

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
	"github.com/stratakit/webhook/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCountingStoreKeepsTheContract runs the conformance suite on the
// wrapper around a fresh SQLite file per subtest.
func TestCountingStoreKeepsTheContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhook.Store {
		s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "webhooks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return newCountingStore(s)
	})
}

func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
