package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stratakit/webhook"
)

// InsertTx stores d as [Store.Insert] does, but inside the caller's
// transaction tx, which must be on the same database as the store's pool:
// the delivery exists if and only if tx commits. The notice to the
// listening stores is queued in tx too, and Postgres sends it only at
// commit, so a Dispatcher looks for the delivery promptly after the
// commit and never sees one rolled back. Build d with
// [webhook.Dispatcher.NewDelivery], which checks the URL and the event
// exactly as Send does:
//
//	d, err := dispatcher.NewDelivery(url, event, webhook.WithIdempotencyKey(key))
//	if err != nil {
//		return err
//	}
//	id, err := store.InsertTx(ctx, tx, d)
//
// If the idempotency key is held by a delivery committed earlier, or by
// one inserted earlier in tx, nothing is stored and that delivery's ID is
// returned. A statement error aborts tx, as any failed statement does in
// Postgres.
func (s *Store) InsertTx(ctx context.Context, tx pgx.Tx, d webhook.Delivery) (string, error) {
	if tx == nil {
		return "", fmt.Errorf("webhook: pgstore insert tx: tx is nil")
	}
	if err := ctx.Err(); err != nil {
		return "", fail(ctx, "insert tx", err)
	}
	id, _, err := s.insert(ctx, tx, d, true)
	if err != nil {
		return "", fail(ctx, "insert tx", err)
	}
	return id, nil
}

// SendTx is [webhook.Dispatcher.Send] inside the caller's transaction:
// it validates the webhook with d.NewDelivery, exactly as Send does, and
// stores it with [Store.InsertTx]. d must be a Dispatcher whose
// Config.Store is s, or another Store on the same tables, so that a
// Dispatcher will attempt the delivery once tx commits. Bad input stores
// nothing and returns the error of NewDelivery, wrapping
// webhook.ErrInvalidEvent or webhook.ErrInvalidURL.
func (s *Store) SendTx(ctx context.Context, tx pgx.Tx, d *webhook.Dispatcher,
	webhookURL string, e webhook.Event, opts ...webhook.SendOption) (string, error) {
	del, err := d.NewDelivery(webhookURL, e, opts...)
	if err != nil {
		return "", err
	}
	return s.InsertTx(ctx, tx, del)
}
