package webhook_test

import (
	"testing"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) webhook.Store { return webhook.NewMemoryStore() })
}
