package webhook

// Internals exposed to the external tests of package webhook_test.
var (
	NextDelay  = nextDelay
	RetryAfter = retryAfter
)
