package sqlitestore

import (
	"path/filepath"
	"testing"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/storetest"
)

// TestConformance runs the Store conformance suite, on a new file for each
// subtest.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) webhook.Store {
		s, err := Open(filepath.Join(t.TempDir(), "webhooks.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		return s
	})
}
