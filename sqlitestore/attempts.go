package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stratakit/webhook"
)

// qInsertAttempt appends one entry to a delivery's attempt log. Its
// arguments: delivery ID, number, started at, duration in nanoseconds,
// status code, response body, error, interrupted.
var qInsertAttempt = writeQuery(`INSERT INTO attempts (delivery_id, number, started_at,
		duration_ns, status_code, response_body, error, interrupted)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)

// Attempts returns the attempt log of delivery id in attempt order, or an
// error wrapping [webhook.ErrNotFound]. A delivery with no attempt yet has
// an empty, non-nil log.
func (s *Store) Attempts(ctx context.Context, id string) ([]webhook.Attempt, error) {
	what := "attempts of " + id
	if err := s.startRead(ctx, what); err != nil {
		return nil, err
	}

	// One statement, so one snapshot: the delivery's row, joined with its
	// attempts if it has any.
	rows, err := s.readDB.QueryContext(ctx, `SELECT a.number, a.started_at,
			a.duration_ns, a.status_code, a.response_body, a.error, a.interrupted
		FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
		WHERE d.id = ?
		ORDER BY a.number, a.seq`, id)
	if err != nil {
		return nil, s.readErr(ctx, what, err)
	}
	defer rows.Close()

	found := false
	out := []webhook.Attempt{}
	for rows.Next() {
		found = true
		var (
			number, started, duration, code sql.NullInt64
			body                            []byte
			errText                         sql.NullString
			interrupted                     sql.NullBool
		)
		err := rows.Scan(&number, &started, &duration, &code, &body, &errText, &interrupted)
		if err != nil {
			return nil, s.readErr(ctx, what, err)
		}
		if !number.Valid {
			continue // the delivery has no attempt
		}
		out = append(out, webhook.Attempt{
			Number:       int(number.Int64),
			StartedAt:    decodeTime(started.Int64),
			Duration:     time.Duration(duration.Int64),
			StatusCode:   int(code.Int64),
			ResponseBody: emptyAsNil(body),
			Error:        errText.String,
			Interrupted:  interrupted.Bool,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, s.readErr(ctx, what, err)
	}
	if !found {
		return nil, fmt.Errorf("webhook: sqlitestore: %s: %w", what, webhook.ErrNotFound)
	}
	return out, nil
}
