package pgstore

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratakit/webhook"
)

// Claim implements [webhook.Store] in one statement, so one round trip
// claims a whole batch: it locks up to r.Limit due deliveries with FOR
// UPDATE SKIP LOCKED, which lets claimers in other processes pass over
// them rather than wait, and gives each a fresh random token and a lease
// until now+r.Lease. A delivery whose lease expired is taken over in the
// same statement, its unfinished attempt logged as interrupted, with
// StartedAt at its claim and Duration up to the end of its lease.
//
// It returns an error if r.Limit is below 1.
func (s *Store) Claim(ctx context.Context, now time.Time, r webhook.ClaimRequest) (
	[]webhook.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "claim", err)
	}
	if r.Limit < 1 {
		return nil, fmt.Errorf("webhook: pgstore claim: Limit %d is below 1", r.Limit)
	}
	skip := r.SkipHosts
	if skip == nil {
		skip = []string{} // a NULL array would match no host at all
	}

	// A delivery failed by its takeover counts against the statement's
	// LIMIT but is no claim: ask again for the rest while that happens,
	// with each host's cap less what this call already claimed.
	claims := []webhook.Claim{}
	round := r
	for len(claims) < r.Limit {
		got, err := s.claimOnce(ctx, now, r.Limit-len(claims), skip, round)
		if err != nil {
			return nil, err
		}
		failed := 0
		for _, c := range got {
			if c.Delivery.Status == webhook.StatusPending {
				claims = append(claims, c)
			} else {
				failed++
			}
		}
		if failed == 0 {
			break
		}
		round.HostSlots = slotsLeft(r, claims)
	}
	return claims, nil
}

// slotsLeft returns r.HostSlots less the claims already made, for every
// host claimed.
func slotsLeft(r webhook.ClaimRequest, claims []webhook.Claim) map[string]int {
	slots := maps.Clone(r.HostSlots)
	if slots == nil {
		slots = map[string]int{}
	}
	for _, c := range claims {
		if n, ok := r.HostCap(c.Delivery.Host); ok {
			if _, seen := slots[c.Delivery.Host]; !seen {
				slots[c.Delivery.Host] = n
			}
			slots[c.Delivery.Host]--
		}
	}
	return slots
}

// claimOnce runs the claim statement once for up to limit deliveries and
// returns every row it changed: claims, and deliveries failed because
// their interrupted attempt was their last.
func (s *Store) claimOnce(ctx context.Context, now time.Time, limit int, skip []string,
	r webhook.ClaimRequest) ([]webhook.Claim, error) {
	// The per-host cap ranks the first few times limit due deliveries: a
	// host crowding that window holds the batch to its cap, and the next
	// claim skips it.
	var slotHosts []string
	var slotCounts []int32
	for host, n := range r.HostSlots {
		slotHosts, slotCounts = append(slotHosts, host), append(slotCounts, int32(max(n, 0)))
	}
	window := max(4*limit, 64)
	rows, err := s.pool.Query(ctx, s.q.claim, now, limit, skip, r.MaxAttempts,
		now.Add(r.Lease), interruptedError, lastInterrupted, window,
		nonNil(slotHosts), nonNil(slotCounts), max(r.PerHost, 0))
	if err != nil {
		return nil, fail(ctx, "claim", err)
	}
	claims, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (webhook.Claim, error) {
		var (
			c         webhook.Claim
			eventType string
			status    string
			leaseAt   *time.Time
			finAt     *time.Time
			token     *string
			nextAt    time.Time
			createdAt time.Time
		)
		err := row.Scan(&c.Delivery.ID, &c.Delivery.IdempotencyKey, &c.Delivery.URL,
			&c.Delivery.Host, &eventType, &c.Delivery.ProductionID, &c.Delivery.Body,
			&c.Delivery.SecretKey, &status, &c.Delivery.Attempts, &nextAt, &leaseAt,
			&c.Delivery.LastError, &createdAt, &finAt, &token)
		if err != nil {
			return webhook.Claim{}, err
		}
		if token != nil { // nil for a delivery failed by its takeover
			c.Token = *token
		}
		if finAt != nil {
			c.Delivery.FinishedAt = finAt.UTC()
		}
		c.Delivery.EventType = webhook.EventType(eventType)
		c.Delivery.Status = webhook.Status(status)
		c.Delivery.NextAttemptAt = nextAt.UTC()
		c.Delivery.CreatedAt = createdAt.UTC()
		if leaseAt != nil {
			c.Delivery.LeaseUntil = leaseAt.UTC()
		}
		return c, nil
	})
	if err != nil {
		return nil, fail(ctx, "claim", err)
	}
	return claims, nil
}

// Extend implements [webhook.Store].
func (s *Store) Extend(ctx context.Context, id, token string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "extend", err)
	}
	tag, err := s.pool.Exec(ctx, s.q.extend, id, token, until)
	if err != nil {
		return fail(ctx, "extend", err)
	}
	if tag.RowsAffected() == 0 {
		return claimLost("extend", id)
	}
	return nil
}

// Release implements [webhook.Store]. The listening stores are then
// notified, so another dispatcher may pick the delivery up at once.
func (s *Store) Release(ctx context.Context, id, token string) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "release", err)
	}
	tag, err := s.pool.Exec(ctx, s.q.release, id, token)
	if err != nil {
		return fail(ctx, "release", err)
	}
	if tag.RowsAffected() == 0 {
		return claimLost("release", id)
	}
	s.notifyLater()
	return nil
}

// Record implements [webhook.Store] in one statement: the attempt is
// logged only if the token still holds the claim, and the claim is dropped
// with it. It returns an error if r.Status is not a known state.
func (s *Store) Record(ctx context.Context, id, token string, r webhook.Result) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "record", err)
	}
	switch r.Status {
	case webhook.StatusPending, webhook.StatusDelivered, webhook.StatusFailed:
	default:
		return fmt.Errorf("webhook: pgstore record %q: Status %q is not a delivery state",
			id, r.Status)
	}
	a := r.Attempt
	body := a.ResponseBody
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx, s.q.record, id, token, string(r.Status),
		r.NextAttemptAt, r.FinishedAt, r.LastError,
		a.Number, a.StartedAt, int64(a.Duration), a.StatusCode, body, a.Error,
		a.Interrupted)
	if err != nil {
		return fail(ctx, "record", err)
	}
	if tag.RowsAffected() == 0 {
		return claimLost("record", id)
	}
	return nil
}

// claimLost is the error of a call whose token does not hold delivery id.
func claimLost(op, id string) error {
	return fmt.Errorf("webhook: pgstore %s %q: the token does not hold the delivery: %w",
		op, id, webhook.ErrClaimLost)
}

// nonNil returns s, or an empty slice for nil: a NULL array would match
// nothing.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
