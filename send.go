package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// MaxIdempotencyKeyLen is the longest idempotency key accepted, in bytes.
const MaxIdempotencyKeyLen = 255

// Send validates a webhook to webhookURL about e, stores it in the Store,
// and returns its delivery ID, also sent as webhook-id. When Send returns
// nil the delivery is in the Store, as durable as the Store makes it, and
// its first attempt starts at once on a running Dispatcher (or at the next
// Start). ctx bounds only Send itself, never the attempts.
//
// With [WithIdempotencyKey], a second Send with the same key stores nothing
// and returns the first delivery's ID; if that delivery is of another event
// type, production or URL, the error wraps ErrIdempotencyConflict, since
// the key was reused for a different webhook.
//
// Bad input stores nothing and returns an error wrapping ErrInvalidEvent or
// ErrInvalidURL that names the problem; a Store failure is returned wrapped.
// After Stop or StopAndCancel, Send returns ErrStopped and stores nothing.
func (d *Dispatcher) Send(ctx context.Context, webhookURL string, e Event,
	opts ...SendOption) (string, error) {
	d.mu.Lock()
	stopped := d.state == stateStopping
	d.mu.Unlock()
	if stopped {
		return "", ErrStopped
	}
	del, err := d.NewDelivery(webhookURL, e, opts...)
	if err != nil {
		return "", err
	}
	id, err := d.cfg.Store.Insert(ctx, del)
	if err != nil {
		return "", fmt.Errorf("webhook: store delivery: %w", err)
	}
	if id != del.ID {
		return id, d.checkSameWebhook(ctx, id, &del)
	}
	d.poke()
	return id, nil
}

// checkSameWebhook returns nil if the stored delivery id, found under
// want's idempotency key, is the same webhook as want, and an error
// wrapping ErrIdempotencyConflict otherwise.
func (d *Dispatcher) checkSameWebhook(ctx context.Context, id string, want *Delivery) error {
	got, err := d.cfg.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil // purged meanwhile: the key held, nothing more to say
	}
	if err != nil {
		return fmt.Errorf("webhook: read delivery %s: %w", id, err)
	}
	if got.EventType != want.EventType || got.ProductionID != want.ProductionID ||
		got.URL != want.URL {
		return fmt.Errorf("%w: key %q holds delivery %s, a %s for production %s",
			ErrIdempotencyConflict, want.IdempotencyKey, id, got.EventType, got.ProductionID)
	}
	return nil
}

// NewDelivery validates a webhook to webhookURL about e exactly as Send does
// and returns the delivery Send would store, without storing it. A Store
// that can insert inside a caller's database transaction uses it, so that
// the webhook exists if and only if that transaction commits.
func (d *Dispatcher) NewDelivery(webhookURL string, e Event, opts ...SendOption) (Delivery, error) {
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := e.Validate(); err != nil {
		return Delivery{}, err
	}
	host, err := d.checkURL(webhookURL)
	if err != nil {
		return Delivery{}, err
	}
	if err := checkKey("WithIdempotencyKey", o.idempotencyKey); err != nil {
		return Delivery{}, err
	}
	if err := checkKey("WithSecretKey", o.secretKey); err != nil {
		return Delivery{}, err
	}
	if o.secretKey != "" && d.cfg.SecretSource == nil {
		return Delivery{}, fmt.Errorf("%w: WithSecretKey: Config.SecretSource is nil",
			ErrInvalidConfig)
	}

	now := d.clock.Now()
	if e.Timestamp.IsZero() {
		e.Timestamp = now
	}
	body, err := e.Payload()
	if err != nil {
		return Delivery{}, err
	}
	id, err := newDeliveryID()
	if err != nil {
		return Delivery{}, err
	}
	return Delivery{
		ID:             id,
		IdempotencyKey: o.idempotencyKey,
		URL:            webhookURL,
		Host:           host,
		EventType:      e.Type,
		ProductionID:   e.ProductionID,
		Body:           body,
		SecretKey:      o.secretKey,
		Status:         StatusPending,
		NextAttemptAt:  now,
		CreatedAt:      now,
	}, nil
}

// checkKey refuses an over-long key or one with control characters.
func checkKey(option, key string) error {
	if len(key) > MaxIdempotencyKeyLen {
		return fmt.Errorf("%w: %s: %d bytes, longer than %d",
			ErrInvalidEvent, option, len(key), MaxIdempotencyKeyLen)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: %s: holds a control character", ErrInvalidEvent, option)
	}
	return nil
}

// idEncoding is base32 in lower case, without the easily confused i, l, o
// and u, as Crockford's alphabet.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").
	WithPadding(base32.NoPadding)

// newDeliveryID returns "msg_" and 26 characters of base32 from 128 random
// bits, in the form Standard Webhooks suggests for webhook-id.
func newDeliveryID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("webhook: make delivery id: %w", err)
	}
	return "msg_" + idEncoding.EncodeToString(b[:]), nil
}
