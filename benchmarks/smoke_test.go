package benchmarks

import "testing"

// TestKindsAreNamed keeps `go test ./benchmarks/...` meaningful without
// -bench: the benchmark table is well formed.
func TestKindsAreNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range kinds {
		if k.name == "" || k.open == nil || seen[k.name] {
			t.Fatalf("bad store kind %q", k.name)
		}
		seen[k.name] = true
	}
}
