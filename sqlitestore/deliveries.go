package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stratakit/webhook"
)

// This file holds the methods that store, read, list and purge
// deliveries. Claims and outcomes are in claims.go.

// The statements of Insert and Purge.
var (
	qInsert = writeQuery(`INSERT INTO deliveries (` + deliveryColumns + `,
			claim_token, claimed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, NULL, ?)
		ON CONFLICT (idempotency_key) DO NOTHING`)
	qByKey = writeQuery(`SELECT id FROM deliveries WHERE idempotency_key = ?`)

	qPurgeAttempts = writeQuery(`DELETE FROM attempts WHERE delivery_id IN
		(SELECT id FROM deliveries WHERE ` + finishedBefore + `)`)
	qPurgeDeliveries = writeQuery(`DELETE FROM deliveries WHERE ` + finishedBefore)
)

// finishedBefore is the condition of Purge.
const finishedBefore = `status <> 'pending' AND finished_at < ?`

// Insert stores d as a new pending delivery and returns its ID; see
// [webhook.Store.Insert]. d.ID must be set (the Dispatcher sets it). The
// delivery is stored unclaimed, whatever d's Status, LeaseUntil and
// FinishedAt. Insert returns once the transaction holding it has been
// committed, so with the default [SynchronousFull] the delivery is on disk.
// An ID already stored is refused with an error.
func (s *Store) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	if d.ID == "" {
		return "", errors.New("webhook: sqlitestore: insert delivery: ID: empty")
	}
	if s.closed.Load() {
		return "", ErrClosed
	}

	var id string
	err := s.w.do(ctx, func(tx *wtx) error {
		res, err := tx.Exec(qInsert, d.ID, nullString(d.IdempotencyKey), d.URL, d.Host,
			string(d.EventType), d.ProductionID, d.Body, d.SecretKey, d.Attempts,
			encodeTime(d.NextAttemptAt), zeroTime, d.LastError, encodeTime(d.CreatedAt),
			zeroTime, zeroTime)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: insert delivery %s: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("webhook: sqlitestore: insert delivery %s: %w", d.ID, err)
		} else if n == 1 {
			id = d.ID
			return nil
		}

		// The idempotency key is taken: answer with its delivery.
		err = tx.QueryRow(qByKey, d.IdempotencyKey).Scan(&id)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: insert delivery %s: look up "+
				"idempotency key: %w", d.ID, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Get returns the delivery with the given ID, or an error wrapping
// [webhook.ErrNotFound].
func (s *Store) Get(ctx context.Context, id string) (webhook.Delivery, error) {
	what := "get delivery " + id
	if err := s.startRead(ctx, what); err != nil {
		return webhook.Delivery{}, err
	}
	row := s.readDB.QueryRowContext(ctx,
		`SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`, id)
	d, err := scanDelivery(row)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Delivery{}, fmt.Errorf("webhook: sqlitestore: %s: %w", what,
			webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.Delivery{}, s.readErr(ctx, what, err)
	}
	return d, nil
}

// defaultListLimit is what a zero Filter.Limit means.
const defaultListLimit = 100

// List returns the deliveries that match f, oldest CreatedAt first (ties
// by ID), at most f.Limit of them (zero means 100). A negative Limit is
// refused.
func (s *Store) List(ctx context.Context, f webhook.Filter) ([]webhook.Delivery, error) {
	const what = "list deliveries"
	if f.Limit < 0 {
		return nil, fmt.Errorf("webhook: sqlitestore: %s: Filter.Limit: %d is negative",
			what, f.Limit)
	}
	if err := s.startRead(ctx, what); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultListLimit
	}

	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, string(f.Status))
	}
	if f.ProductionID != "" {
		where = append(where, "production_id = ?")
		args = append(args, f.ProductionID)
	}
	query := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, limit)

	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.readErr(ctx, what, err)
	}
	defer rows.Close()
	out := []webhook.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, s.readErr(ctx, what, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, what, err)
	}
	return out, nil
}

// Purge deletes the delivered and failed deliveries whose FinishedAt is
// before finishedBefore, with their attempt logs, in one transaction, and
// returns how many deliveries it deleted. Pending deliveries are never
// purged. The Dispatcher calls it in the background with
// now - Config.Retention.
func (s *Store) Purge(ctx context.Context, finishedBefore time.Time) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	var n int64
	before := encodeTime(finishedBefore)
	err := s.w.do(ctx, func(tx *wtx) error {
		_, err := tx.Exec(qPurgeAttempts, before)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: purge attempts: %w", err)
		}
		res, err := tx.Exec(qPurgeDeliveries, before)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: purge deliveries: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("webhook: sqlitestore: purge deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
