package main

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQuickstart runs the README's first command on both stores.
func TestQuickstart(t *testing.T) {
	for _, args := range [][]string{
		{"-db", filepath.Join(t.TempDir(), "quickstart.db")},
		{"-store", "memory"},
	} {
		if err := run(args); err != nil {
			t.Fatalf("quickstart %v: %v", args, err)
		}
	}
}
