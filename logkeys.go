package webhook

// The keys of the Dispatcher's log lines. Every line about a delivery
// carries keyDeliveryID, keyProductionID and keyEvent; the rest depend on
// the line.
const (
	keyDeliveryID   = "delivery_id"
	keyProductionID = "production_id"
	keyEvent        = "event"
	keyURL          = "url" // query string redacted
	keyAttempt      = "attempt"
	keyStatusCode   = "status_code"
	keyDurationMS   = "duration_ms"
	keyError        = "error"
	keyNextAttempt  = "next_attempt_at"
	keyState        = "state"
	keyAttempts     = "attempts"
	keyPurged       = "purged"
	keyReason       = "reason"
)
