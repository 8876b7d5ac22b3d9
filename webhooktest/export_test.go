package webhooktest

import "time"

// SetWaitLimit lowers the safety limit of the waits for a test of their
// failure path, and returns a function that restores it. Tests that call it
// must not run in parallel with others.
func SetWaitLimit(d time.Duration) (restore func()) {
	old := waitLimit.Swap(int64(d))
	return func() { waitLimit.Store(old) }
}
