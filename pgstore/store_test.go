package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
)

func TestInsertGet(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()

	d := newDelivery(1, t0.Add(1500*time.Nanosecond))
	d.IdempotencyKey = "render-1"
	d.SecretKey = "tenant-7"
	d.Attempts = 3 // state fields of a new delivery are ignored
	d.Status = webhook.StatusFailed
	id, err := s.Insert(ctx, d)
	require.NoError(t, err)
	require.Equal(t, d.ID, id)

	got, err := s.Get(ctx, id)
	require.NoError(t, err)
	want := d
	want.Status = webhook.StatusPending
	want.Attempts = 0
	want.NextAttemptAt = t0.Add(time.Microsecond) // microsecond precision
	require.Equal(t, want, got)

	// The same idempotency key returns the first delivery's ID.
	again := newDelivery(2, t0)
	again.IdempotencyKey = "render-1"
	id2, err := s.Insert(ctx, again)
	require.NoError(t, err)
	require.Equal(t, id, id2)
	_, err = s.Get(ctx, again.ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// An empty ID gets a fresh one.
	anon := newDelivery(3, t0)
	anon.ID = ""
	id3, err := s.Insert(ctx, anon)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id3, "msg_"), id3)

	_, err = s.Attempts(ctx, "msg_none")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	log, err := s.Attempts(ctx, id)
	require.NoError(t, err)
	require.Empty(t, log)
}

func TestInsertIdempotentConcurrent(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()

	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := newDelivery(i, t0)
			d.IdempotencyKey = "same"
			ids[i], errs[i] = s.Insert(ctx, d)
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	all, err := s.List(ctx, webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
}

func TestClaimOrderLimitAndSkip(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()

	// Due in reverse order of ID; one not yet due; one on a skipped host.
	for i := 1; i <= 4; i++ {
		_, err := s.Insert(ctx, newDelivery(i, t0.Add(-time.Duration(i)*time.Second)))
		require.NoError(t, err)
	}
	_, err := s.Insert(ctx, newDelivery(5, t0.Add(time.Second)))
	require.NoError(t, err)
	other := newDelivery(6, t0.Add(-time.Hour))
	other.Host = "busy.example.com:443"
	_, err = s.Insert(ctx, other)
	require.NoError(t, err)

	claims, err := s.Claim(ctx, t0, request(2, "busy.example.com:443"))
	require.NoError(t, err)
	require.Len(t, claims, 2)
	require.Equal(t, "msg_pg_00004", claims[0].Delivery.ID)
	require.Equal(t, "msg_pg_00003", claims[1].Delivery.ID)
	for _, c := range claims {
		require.Equal(t, 1, c.Delivery.Attempts)
		require.True(t, c.Delivery.LeaseUntil.Equal(t0.Add(time.Minute)))
		require.NotEmpty(t, c.Token)
	}
	require.NotEqual(t, claims[0].Token, claims[1].Token)

	claims, err = s.Claim(ctx, t0, request(10, "busy.example.com:443"))
	require.NoError(t, err)
	require.Len(t, claims, 2) // 2 and 1; 5 is not due, 6 is skipped

	claims, err = s.Claim(ctx, t0, request(10))
	require.NoError(t, err)
	require.Len(t, claims, 1)
	require.Equal(t, other.ID, claims[0].Delivery.ID)

	claims, err = s.Claim(ctx, t0, request(10))
	require.NoError(t, err)
	require.Empty(t, claims)
	require.NotNil(t, claims)

	_, err = s.Claim(ctx, t0, request(0))
	require.ErrorContains(t, err, "Limit 0")
}

func TestRecordExtendRelease(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()
	_, err := s.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)
	id := "msg_pg_00001"

	c := claimOne(t, s, t0)
	require.ErrorIs(t, s.Extend(ctx, id, "wrong", t0.Add(time.Hour)), webhook.ErrClaimLost)
	require.NoError(t, s.Extend(ctx, id, c.Token, t0.Add(2*time.Minute)))
	d, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.True(t, d.LeaseUntil.Equal(t0.Add(2*time.Minute)))

	// Release uncounts the attempt and keeps the due time.
	require.ErrorIs(t, s.Release(ctx, id, "wrong"), webhook.ErrClaimLost)
	require.NoError(t, s.Release(ctx, id, c.Token))
	d, err = s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 0, d.Attempts)
	require.True(t, d.LeaseUntil.IsZero())
	require.True(t, d.NextAttemptAt.Equal(t0))
	require.ErrorIs(t, s.Release(ctx, id, c.Token), webhook.ErrClaimLost)

	// A failed attempt reschedules; a successful one finishes.
	c = claimOne(t, s, t0)
	fail := webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: t0, Duration: 1500 * time.Microsecond,
			StatusCode: 503, ResponseBody: []byte("busy"), Error: "status 503"},
		Status:        webhook.StatusPending,
		NextAttemptAt: t0.Add(time.Second),
		LastError:     "status 503",
	}
	require.ErrorIs(t, s.Record(ctx, id, "wrong", fail), webhook.ErrClaimLost)
	require.NoError(t, s.Record(ctx, id, c.Token, fail))
	require.ErrorIs(t, s.Record(ctx, id, c.Token, fail), webhook.ErrClaimLost)
	require.ErrorIs(t, s.Extend(ctx, id, c.Token, t0), webhook.ErrClaimLost)

	claims, err := s.Claim(ctx, t0, request(1))
	require.NoError(t, err)
	require.Empty(t, claims, "not due before its retry time")
	c = claimOne(t, s, t0.Add(time.Second))
	require.Equal(t, 2, c.Delivery.Attempts)
	require.Equal(t, "status 503", c.Delivery.LastError)
	ok := webhook.Result{
		Attempt:    webhook.Attempt{Number: 2, StartedAt: t0.Add(time.Second), StatusCode: 204},
		Status:     webhook.StatusDelivered,
		FinishedAt: t0.Add(2 * time.Second),
	}
	require.NoError(t, s.Record(ctx, id, c.Token, ok))

	d, err = s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, d.Status)
	require.Equal(t, 2, d.Attempts)
	require.True(t, d.FinishedAt.Equal(t0.Add(2*time.Second)))
	require.True(t, d.LeaseUntil.IsZero())

	log, err := s.Attempts(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []webhook.Attempt{fail.Attempt, ok.Attempt}, log)

	bad := ok
	bad.Status = "lost"
	require.ErrorContains(t, s.Record(ctx, id, c.Token, bad), `Status "lost"`)
}

// An expired lease is taken over: the unfinished attempt is logged as
// interrupted, the old token refused, and the last attempt ends as failed.
func TestTakeover(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()
	_, err := s.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)
	id := "msg_pg_00001"

	old := claimOne(t, s, t0)
	claims, err := s.Claim(ctx, t0.Add(59*time.Second), request(1))
	require.NoError(t, err)
	require.Empty(t, claims, "the lease still holds")

	next := claimOne(t, s, t0.Add(time.Minute))
	require.Equal(t, 2, next.Delivery.Attempts)
	require.NotEqual(t, old.Token, next.Token)

	// The old holder can no longer touch the delivery.
	res := webhook.Result{Attempt: webhook.Attempt{Number: 1, StatusCode: 200},
		Status: webhook.StatusDelivered, FinishedAt: t0}
	require.ErrorIs(t, s.Record(ctx, id, old.Token, res), webhook.ErrClaimLost)
	require.ErrorIs(t, s.Extend(ctx, id, old.Token, t0.Add(time.Hour)), webhook.ErrClaimLost)
	require.ErrorIs(t, s.Release(ctx, id, old.Token), webhook.ErrClaimLost)
	d, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, d.Status)
	require.Equal(t, 2, d.Attempts)
	require.True(t, d.LeaseUntil.Equal(t0.Add(2*time.Minute)))

	log, err := s.Attempts(ctx, id)
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Equal(t, 1, log[0].Number)
	require.True(t, log[0].Interrupted)
	require.True(t, log[0].StartedAt.Equal(t0))
	require.Equal(t, time.Minute, log[0].Duration)

	// With two attempts allowed, the second one's expiry ends the delivery.
	r := request(1)
	r.MaxAttempts = 2
	claims, err = s.Claim(ctx, t0.Add(2*time.Minute), r)
	require.NoError(t, err)
	require.Empty(t, claims)
	d, err = s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusFailed, d.Status)
	require.Equal(t, 2, d.Attempts)
	require.True(t, d.FinishedAt.Equal(t0.Add(2*time.Minute)))
	require.NotEmpty(t, d.LastError)
	require.Error(t, d.Err())

	log, err = s.Attempts(ctx, id)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, 2, log[1].Number)
	require.True(t, log[1].Interrupted)
	require.ErrorIs(t, s.Record(ctx, id, next.Token, res), webhook.ErrClaimLost)
}

func TestListNextDuePurge(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()

	_, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.False(t, ok)

	for i := 1; i <= 3; i++ {
		d := newDelivery(i, t0.Add(time.Duration(i)*time.Minute))
		d.CreatedAt = t0.Add(-time.Duration(i) * time.Second)
		d.ProductionID = "prod-a"
		if i == 3 {
			d.ProductionID = "prod-b"
		}
		_, err := s.Insert(ctx, d)
		require.NoError(t, err)
	}
	at, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, at.Equal(t0.Add(time.Minute)))

	// A claimed delivery counts by its lease.
	c := claimOne(t, s, t0.Add(time.Minute))
	at, _, err = s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, at.Equal(t0.Add(2*time.Minute)), at)
	require.NoError(t, s.Extend(ctx, c.Delivery.ID, c.Token, t0.Add(90*time.Second)))
	at, _, err = s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, at.Equal(t0.Add(90*time.Second)), at)

	require.NoError(t, s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: t0, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: t0.Add(time.Hour),
	}))

	list, err := s.List(ctx, webhook.Filter{ProductionID: "prod-a"})
	require.NoError(t, err)
	require.Equal(t, []string{"msg_pg_00002", "msg_pg_00001"}, ids(list))
	list, err = s.List(ctx, webhook.Filter{Status: webhook.StatusPending})
	require.NoError(t, err)
	require.Equal(t, []string{"msg_pg_00003", "msg_pg_00002"}, ids(list))
	list, err = s.List(ctx, webhook.Filter{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"msg_pg_00003"}, ids(list))

	n, err := s.Purge(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 0, n, "finished at the bound: kept")
	n, err = s.Purge(ctx, t0.Add(time.Hour+time.Microsecond))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Attempts(ctx, "msg_pg_00001")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	list, err = s.List(ctx, webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 2)
}

// A call whose context is done returns ctx.Err() wrapped and changes
// nothing.
func TestContextDone(t *testing.T) {
	t.Parallel()
	s, _, _ := setup(t)
	ctx := context.Background()
	_, err := s.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)
	c := claimOne(t, s, t0)
	id := c.Delivery.ID

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Insert(done, newDelivery(2, t0))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Get(done, id)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Attempts(done, id)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.List(done, webhook.Filter{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Claim(done, t0.Add(time.Hour), request(1))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.Extend(done, id, c.Token, t0.Add(time.Hour)), context.Canceled)
	require.ErrorIs(t, s.Release(done, id, c.Token), context.Canceled)
	require.ErrorIs(t, s.Record(done, id, c.Token, webhook.Result{
		Status: webhook.StatusDelivered}), context.Canceled)
	_, _, err = s.NextDue(done, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Purge(done, t0.Add(time.Hour))
	require.ErrorIs(t, err, context.Canceled)

	d, err := s.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, d.Attempts)
	require.True(t, d.LeaseUntil.Equal(t0.Add(time.Minute)))
	_, err = s.Get(ctx, "msg_pg_00002")
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

// claimOne claims exactly one delivery at now.
func claimOne(t testing.TB, s webhook.Store, now time.Time) webhook.Claim {
	t.Helper()
	claims, err := s.Claim(context.Background(), now, request(1))
	require.NoError(t, err)
	require.Len(t, claims, 1)
	return claims[0]
}

func ids(ds []webhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
