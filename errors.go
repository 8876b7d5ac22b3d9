package webhook

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with [errors.Is]; the errors the
// package returns wrap them with detail about the field or value at fault.
var (
	// ErrInvalidEvent reports an event that cannot be sent: an empty or
	// malformed production ID, a missing output URL, an empty error text.
	ErrInvalidEvent = errors.New("webhook: invalid event")

	// ErrInvalidURL reports a webhook URL that the URL policy refuses: not
	// absolute, not https (unless plain http is allowed), with user
	// credentials, too long, or aimed at a refused address.
	ErrInvalidURL = errors.New("webhook: invalid webhook url")

	// ErrInvalidConfig reports a Config field with a value out of range.
	ErrInvalidConfig = errors.New("webhook: invalid config")

	// ErrNotFound reports that a Store holds no delivery with the given ID.
	ErrNotFound = errors.New("webhook: delivery not found")

	// ErrClaimLost reports that a claim token no longer holds its delivery:
	// the lease expired and another dispatcher took the delivery over, or
	// the delivery was already finished. The holder must drop its outcome.
	ErrClaimLost = errors.New("webhook: claim lost")

	// ErrAddressRefused reports that the SSRF guard refused every address
	// of a webhook's host: loopback, private, link-local or another range
	// that is not the public internet, and not in Config.Allow. A delivery
	// refused at connect time fails at once, without retries.
	ErrAddressRefused = errors.New("webhook: address refused")

	// ErrIdempotencyConflict reports a Send whose idempotency key is held by
	// a delivery of another event type, production or URL: the key was
	// reused for a different webhook, which would otherwise be dropped.
	ErrIdempotencyConflict = errors.New("webhook: idempotency key reused for another webhook")

	// ErrStopped reports a call on a Dispatcher that has been stopped.
	ErrStopped = errors.New("webhook: dispatcher stopped")
)

// DeliveryError describes why a delivery ended in [StatusFailed]: the
// number of attempts made, why delivery stopped, and the last attempt's
// error. [Delivery.Err] returns one for a failed delivery.
type DeliveryError struct {
	// DeliveryID is the delivery's ID, also sent as webhook-id.
	DeliveryID string
	// Attempts is the number of attempts made, interrupted ones included.
	Attempts int
	// Reason says why no further attempt will be made: ReasonExhausted,
	// ReasonRefused, ReasonInterrupted, or ReasonUnknown for a delivery
	// failed by some other store or program.
	Reason string
	// LastError is the last attempt's error text, as in its [Attempt] log
	// entry.
	LastError string
}

// Why a delivery failed, as in DeliveryError.Reason. A failed delivery's
// LastError starts with its reason and ": ".
const (
	// ReasonExhausted: the schedule's last attempt failed.
	ReasonExhausted = "retries exhausted"
	// ReasonRefused: the SSRF guard refused every address of the host, or
	// the URL could not be sent to at all; retrying cannot help.
	ReasonRefused = "refused"
	// ReasonInterrupted: the last attempt was interrupted (its process
	// died) before an outcome was recorded.
	ReasonInterrupted = "last attempt interrupted"
	// ReasonUnknown: the reason was not recorded.
	ReasonUnknown = "failed"
)

// Error implements error.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("webhook: delivery %s failed after %d attempts (%s): %s",
		e.DeliveryID, e.Attempts, e.Reason, e.LastError)
}
