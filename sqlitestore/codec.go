package sqlitestore

import (
	"database/sql"
	"math"
	"time"

	"github.com/stratakit/webhook"
)

// Times are stored as INTEGER nanoseconds since the Unix epoch, so they
// compare and sort as numbers and come back exact, in UTC. The zero
// time.Time is stored as the smallest int64. Other times outside the
// range of int64 nanoseconds (years 1678 to 2262) are clamped to it: they
// keep their order, not their value.
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

// zeroTime is the stored form of the zero time.Time.
const zeroTime int64 = math.MinInt64

// encodeTime returns t's stored form.
func encodeTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return zeroTime
	case t.Before(minTime):
		return math.MinInt64 + 1
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decodeTime returns the time whose stored form is n, in UTC.
func decodeTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nullString stores an empty string as NULL.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// emptyAsNil returns nil for an empty slice, so that a value read back
// equals the nil it was stored from.
func emptyAsNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// deliveryColumns are the columns scanDelivery reads, in its order.
const deliveryColumns = `id, idempotency_key, url, host, event_type, production_id,
	body, secret_key, status, attempts, next_attempt_at, lease_until, last_error,
	created_at, finished_at`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanDelivery reads one row of deliveryColumns, plus any extra columns
// into extra.
func scanDelivery(row scanner, extra ...any) (webhook.Delivery, error) {
	var (
		d                                    webhook.Delivery
		key                                  sql.NullString
		eventType, status                    string
		nextAt, leaseUntil, created, finTime int64
	)
	dest := append([]any{
		&d.ID, &key, &d.URL, &d.Host, &eventType, &d.ProductionID,
		&d.Body, &d.SecretKey, &status, &d.Attempts, &nextAt, &leaseUntil, &d.LastError,
		&created, &finTime,
	}, extra...)
	if err := row.Scan(dest...); err != nil {
		return webhook.Delivery{}, err
	}
	d.IdempotencyKey = key.String
	d.EventType = webhook.EventType(eventType)
	d.Body = emptyAsNil(d.Body)
	d.Status = webhook.Status(status)
	d.NextAttemptAt = decodeTime(nextAt)
	d.LeaseUntil = decodeTime(leaseUntil)
	d.CreatedAt = decodeTime(created)
	d.FinishedAt = decodeTime(finTime)
	return d, nil
}
