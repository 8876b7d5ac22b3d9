package sqlitestore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stratakit/webhook"
)

// This file holds the claim protocol: Claim (with the takeover of expired
// claims), Extend, Release, Record and NextDue.

// Texts stored when a claim is taken over after its lease expired: the
// same in every store.
const (
	interruptedError = webhook.InterruptedError
	lastInterrupted  = webhook.LastInterruptedError
)

// Claim claims up to r.Limit due deliveries, earliest NextAttemptAt first
// (ties by ID), skipping the hosts in r.SkipHosts; see
// [webhook.Store.Claim]. A delivery whose claim expired at or before now is
// taken over: its unfinished attempt is logged as interrupted, and the
// delivery is claimed again or, when that attempt was its
// r.MaxAttempts-th, finished as failed (such a delivery is not among those
// returned and does not count towards r.Limit). A MaxAttempts of zero or
// less sets no such limit. r.Limit must be at least 1 and r.Lease
// positive.
//
// The interrupted attempt is logged with StartedAt at its claim, Duration
// up to the end of its lease, and no reply.
func (s *Store) Claim(ctx context.Context, now time.Time, r webhook.ClaimRequest) (
	[]webhook.Claim, error) {
	switch {
	case r.Limit < 1:
		return nil, fmt.Errorf("webhook: sqlitestore: claim: ClaimRequest.Limit: %d is below 1",
			r.Limit)
	case r.Lease <= 0:
		return nil, fmt.Errorf("webhook: sqlitestore: claim: ClaimRequest.Lease: %v is not "+
			"positive", r.Lease)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}

	var claims []webhook.Claim
	err := s.w.do(ctx, func(tx *wtx) error {
		claims = claims[:0]
		c, err := claimIn(tx, now, r)
		claims = c
		return err
	})
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = []webhook.Claim{}
	}
	return claims, nil
}

// qDue selects the due deliveries in due order: the unclaimed ones due by
// now, and the claimed ones whose lease ran out by now. Each half reads its
// own partial index, and SQLite merges them.
var qDue = writeQuery(`
	SELECT ` + deliveryColumns + `, 0 AS held, claimed_at
	FROM deliveries
	WHERE status = 'pending' AND claim_token IS NULL AND next_attempt_at <= ?1
		AND host NOT IN (SELECT value FROM json_each(?2))
	UNION ALL
	SELECT ` + deliveryColumns + `, 1 AS held, claimed_at
	FROM deliveries
	WHERE status = 'pending' AND claim_token IS NOT NULL AND lease_until <= ?1
		AND host NOT IN (SELECT value FROM json_each(?2))
	ORDER BY next_attempt_at, id
	LIMIT ?3`)

// The statements of Claim, Extend, Release and Record.
var (
	qClaim = writeQuery(`UPDATE deliveries SET attempts = ?, claim_token = ?,
			claimed_at = ?, lease_until = ?, last_error = ?
		WHERE id = ?`)
	qFailTakenOver = writeQuery(`UPDATE deliveries SET status = 'failed',
			finished_at = ?, last_error = ?, claim_token = NULL,
			claimed_at = ?, lease_until = ?
		WHERE id = ?`)
	qExtend  = writeQuery(`UPDATE deliveries SET lease_until = ? WHERE ` + heldBy)
	qRelease = writeQuery(`UPDATE deliveries SET attempts = attempts - 1,
			claim_token = NULL, claimed_at = ?, lease_until = ?
		WHERE ` + heldBy)
	qHeld   = writeQuery(`SELECT 1 FROM deliveries WHERE ` + heldBy)
	qRecord = writeQuery(`UPDATE deliveries SET status = ?,
			next_attempt_at = coalesce(?, next_attempt_at),
			finished_at = ?, last_error = ?,
			claim_token = NULL, claimed_at = ?, lease_until = ?
		WHERE id = ?`)
)

// due is a row of dueQuery.
type due struct {
	d         webhook.Delivery
	held      bool
	claimedAt int64
}

// claimIn does Claim's work inside tx.
func claimIn(tx *wtx, now time.Time, r webhook.ClaimRequest) ([]webhook.Claim, error) {
	nowN := encodeTime(now)
	leaseUntil := now.Add(r.Lease)
	var claims []webhook.Claim
	skipHosts := slices.Clone(r.SkipHosts)
	taken := map[string]int{} // claims by host, against r.HostCap

	// Every row a round reads leaves the due set (claimed with a lease past
	// now, or failed) or belongs to a host that reached its cap, which the
	// next round skips. A round that failed some, or capped a host, reads
	// again to fill the limit.
	for len(claims) < r.Limit {
		want := r.Limit - len(claims)
		skip, err := hostsJSON(skipHosts)
		if err != nil {
			return nil, fmt.Errorf("webhook: sqlitestore: claim: SkipHosts: %w", err)
		}
		rows, err := readDue(tx, nowN, skip, want)
		if err != nil {
			return nil, err
		}

		failed, capped := 0, 0
		for _, row := range rows {
			d := row.d
			if n, ok := r.HostCap(d.Host); ok && taken[d.Host] >= n {
				if !slices.Contains(skipHosts, d.Host) {
					skipHosts = append(skipHosts, d.Host)
				}
				capped++
				continue
			}
			if row.held {
				// The holder's lease ran out: its attempt counts as made.
				ran := max(d.LeaseUntil.Sub(decodeTime(row.claimedAt)), 0)
				_, err := tx.Exec(qInsertAttempt, d.ID, d.Attempts, row.claimedAt,
					int64(ran), 0, nil, interruptedError, true)
				if err != nil {
					return nil, fmt.Errorf("webhook: sqlitestore: claim: log interrupted "+
						"attempt of %s: %w", d.ID, err)
				}
				if r.MaxAttempts > 0 && d.Attempts >= r.MaxAttempts {
					_, err := tx.Exec(qFailTakenOver, nowN, lastInterrupted, zeroTime,
						zeroTime, d.ID)
					if err != nil {
						return nil, fmt.Errorf("webhook: sqlitestore: claim: fail %s: %w",
							d.ID, err)
					}
					failed++
					continue
				}
				d.LastError = interruptedError
			}

			token := rand.Text()
			d.Attempts++
			d.LeaseUntil = decodeTime(encodeTime(leaseUntil))
			_, err := tx.Exec(qClaim, d.Attempts, token, nowN, encodeTime(leaseUntil), d.LastError, d.ID)
			if err != nil {
				return nil, fmt.Errorf("webhook: sqlitestore: claim %s: %w", d.ID, err)
			}
			taken[d.Host]++
			claims = append(claims, webhook.Claim{Delivery: d, Token: token})
		}

		if len(rows) < want || failed == 0 && capped == 0 {
			break
		}
	}
	return claims, nil
}

// readDue reads up to limit rows of dueQuery.
func readDue(tx *wtx, now int64, skip string, limit int) ([]due, error) {
	rows, err := tx.Query(qDue, now, skip, limit)
	if err != nil {
		return nil, fmt.Errorf("webhook: sqlitestore: claim: select due: %w", err)
	}
	defer rows.Close()
	var out []due
	for rows.Next() {
		var row due
		if row.d, err = scanDelivery(rows, &row.held, &row.claimedAt); err != nil {
			return nil, fmt.Errorf("webhook: sqlitestore: claim: select due: %w", err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("webhook: sqlitestore: claim: select due: %w", err)
	}
	return out, nil
}

// claimLost is the error of a token that no longer holds delivery id.
func claimLost(op, id string) error {
	return fmt.Errorf("webhook: sqlitestore: %s %s: %w", op, id, webhook.ErrClaimLost)
}

// heldBy is the condition that token holds the delivery.
const heldBy = `id = ? AND claim_token = ? AND status = 'pending'`

// Extend moves the lease of the claim that token holds on delivery id to
// until. It returns an error wrapping [webhook.ErrClaimLost] if token no
// longer holds the delivery. A lease that ran out but was not taken over
// still holds.
func (s *Store) Extend(ctx context.Context, id, token string, until time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.w.do(ctx, func(tx *wtx) error {
		res, err := tx.Exec(qExtend, encodeTime(until), id, token)
		return checkHeld(res, err, "extend claim on", id)
	})
}

// Release gives back the claim that token holds on delivery id, whose
// attempt never started: the claim is dropped, the attempt uncounted, and
// the due time left as it was. It returns an error wrapping
// [webhook.ErrClaimLost] if token no longer holds the delivery.
func (s *Store) Release(ctx context.Context, id, token string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.w.do(ctx, func(tx *wtx) error {
		res, err := tx.Exec(qRelease, zeroTime, zeroTime, id, token)
		return checkHeld(res, err, "release claim on", id)
	})
}

// checkHeld turns the result of an update guarded by heldBy into the
// method's error.
func checkHeld(res sql.Result, err error, op, id string) error {
	if err != nil {
		return fmt.Errorf("webhook: sqlitestore: %s %s: %w", op, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("webhook: sqlitestore: %s %s: %w", op, id, err)
	}
	if n == 0 {
		return claimLost(op, id)
	}
	return nil
}

// Record appends r.Attempt to the attempt log of delivery id, applies r's
// status, due time, finish time and last error, and drops the claim, in
// one transaction. It returns an error wrapping [webhook.ErrClaimLost],
// and changes nothing, if token no longer holds the delivery. r.Status
// must be one of the three statuses; NextAttemptAt is kept only for
// pending, FinishedAt only for delivered and failed. A response body
// longer than [webhook.MaxResponseSnippet] is cut to it.
func (s *Store) Record(ctx context.Context, id, token string, r webhook.Result) error {
	switch r.Status {
	case webhook.StatusPending, webhook.StatusDelivered, webhook.StatusFailed:
	default:
		return fmt.Errorf("webhook: sqlitestore: record outcome of %s: Result.Status: %q "+
			"is not pending, delivered or failed", id, r.Status)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	a := r.Attempt
	body := a.ResponseBody
	if len(body) > webhook.MaxResponseSnippet {
		body = body[:webhook.MaxResponseSnippet]
	}
	// NULL keeps the stored due time.
	next, finished := sql.NullInt64{}, encodeTime(r.FinishedAt)
	if r.Status == webhook.StatusPending {
		next, finished = sql.NullInt64{Int64: encodeTime(r.NextAttemptAt), Valid: true}, zeroTime
	}

	return s.w.do(ctx, func(tx *wtx) error {
		const op = "record outcome of"
		var one int
		err := tx.QueryRow(qHeld, id, token).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return claimLost(op, id)
		}
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: %s %s: %w", op, id, err)
		}

		_, err = tx.Exec(qInsertAttempt, id, a.Number, encodeTime(a.StartedAt),
			int64(a.Duration), a.StatusCode, body, a.Error, a.Interrupted)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: %s %s: log attempt: %w", op, id, err)
		}
		_, err = tx.Exec(qRecord, string(r.Status), next, finished, r.LastError, zeroTime, zeroTime, id)
		if err != nil {
			return fmt.Errorf("webhook: sqlitestore: %s %s: %w", op, id, err)
		}
		return nil
	})
}

// hostsJSON encodes hosts as a JSON array, for json_each; nil as [].
func hostsJSON(hosts []string) (string, error) {
	if hosts == nil {
		hosts = []string{}
	}
	b, err := json.Marshal(hosts)
	return string(b), err
}

// NextDue returns the earliest time at which Claim, skipping the same
// hosts, could return a delivery: the earliest NextAttemptAt of an
// unclaimed pending delivery, or the earliest LeaseUntil of a claimed one.
// ok is false when nothing is pending on the other hosts.
func (s *Store) NextDue(ctx context.Context, skipHosts []string) (time.Time, bool, error) {
	const what = "next due time"
	if err := s.startRead(ctx, what); err != nil {
		return time.Time{}, false, err
	}
	skip, err := hostsJSON(skipHosts)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("webhook: sqlitestore: next due: %w", err)
	}
	var due, lease sql.NullInt64
	err = s.readDB.QueryRowContext(ctx, `SELECT
		(SELECT min(next_attempt_at) FROM deliveries
			WHERE status = 'pending' AND claim_token IS NULL
			AND host NOT IN (SELECT value FROM json_each(?1))),
		(SELECT min(lease_until) FROM deliveries
			WHERE status = 'pending' AND claim_token IS NOT NULL
			AND host NOT IN (SELECT value FROM json_each(?1)))`, skip).Scan(&due, &lease)
	if err != nil {
		return time.Time{}, false, s.readErr(ctx, what, err)
	}
	switch {
	case due.Valid && lease.Valid:
		return decodeTime(min(due.Int64, lease.Int64)), true, nil
	case due.Valid:
		return decodeTime(due.Int64), true, nil
	case lease.Valid:
		return decodeTime(lease.Int64), true, nil
	}
	return time.Time{}, false, nil
}
