package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
)

// Two stores on the same tables, as two processes would hold them, claim
// from many goroutines at once: no delivery is handed out twice.
func TestClaimAcrossStores(t *testing.T) {
	t.Parallel()
	a, pool, o := setup(t)
	b := openStore(t, pool, o)
	ctx := context.Background()

	const n = 300
	for i := range n {
		_, err := a.Insert(ctx, newDelivery(i, t0.Add(time.Duration(i%7)*time.Millisecond)))
		require.NoError(t, err)
	}

	var (
		mu     sync.Mutex
		counts = make(map[string]int)
		wg     sync.WaitGroup
		errs   = make(chan error, 8)
	)
	for _, s := range []*pgstore.Store{a, b, a, b, a, b} {
		wg.Go(func() {
			for {
				claims, err := s.Claim(ctx, t0.Add(time.Second), request(7))
				if err != nil {
					errs <- err
					return
				}
				if len(claims) == 0 {
					return
				}
				for _, c := range claims {
					mu.Lock()
					counts[c.Delivery.ID]++
					mu.Unlock()
					err := s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
						Attempt: webhook.Attempt{Number: c.Delivery.Attempts,
							StartedAt: t0, StatusCode: 200},
						Status: webhook.StatusDelivered, FinishedAt: t0.Add(time.Second),
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, counts, n)
	for id, c := range counts {
		require.Equal(t, 1, c, id)
	}
	_, ok, err := a.NextDue(ctx, nil)
	require.NoError(t, err)
	require.False(t, ok)
}

// An insert through one store wakes the other at once.
func TestWakeAcrossStores(t *testing.T) {
	t.Parallel()
	a, pool, o := setup(t)
	b := openStore(t, pool, o)
	ctx := context.Background()

	drain(b.Wake())
	_, err := a.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)
	waitWake(t, b.Wake())

	// A release, which makes a delivery claimable again, wakes too.
	c := claimOne(t, a, t0)
	drain(b.Wake())
	require.NoError(t, a.Release(ctx, c.Delivery.ID, c.Token))
	waitWake(t, b.Wake())

	// Stores on other tables share no channel.
	require.NotEqual(t, b.Wake(), a.Wake())
}

// The listener survives its connection being killed: it reconnects,
// wakes once for the notices it may have missed, and wakes again on the
// next insert.
func TestWakeAfterReconnect(t *testing.T) {
	t.Parallel()
	a, pool, o := setup(t)
	b := openStore(t, pool, o)
	ctx := context.Background()

	drain(b.Wake())
	tag, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || $1 || '%'`, o.Schema)
	require.NoError(t, err)
	require.Equal(t, int64(2), tag.RowsAffected(), "both stores' listeners")

	waitWake(t, b.Wake())

	// The listener is back once it signalled: a fresh insert wakes it.
	drain(b.Wake())
	_, err = a.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)
	waitWake(t, b.Wake())
}

// A delivery inserted in a transaction that rolls back leaves nothing; one
// committed is claimed exactly once, and its notice arrives with the
// commit.
func TestInsertTx(t *testing.T) {
	t.Parallel()
	s, pool, o := setup(t)
	other := openStore(t, pool, o)
	ctx := context.Background()

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	id, err := s.InsertTx(ctx, tx, newDelivery(1, t0))
	require.NoError(t, err)
	require.Equal(t, "msg_pg_00001", id)
	require.NoError(t, tx.Rollback(ctx))
	_, err = s.Get(ctx, id)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	claims, err := s.Claim(ctx, t0, request(10))
	require.NoError(t, err)
	require.Empty(t, claims)

	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	id, err = s.InsertTx(ctx, tx, newDelivery(2, t0))
	require.NoError(t, err)
	// Uncommitted: invisible to other connections.
	claims, err = other.Claim(ctx, t0, request(10))
	require.NoError(t, err)
	require.Empty(t, claims)
	drain(other.Wake())
	require.NoError(t, tx.Commit(ctx))
	waitWake(t, other.Wake())

	c := claimOne(t, other, t0)
	require.Equal(t, id, c.Delivery.ID)
	claims, err = s.Claim(ctx, t0, request(10))
	require.NoError(t, err)
	require.Empty(t, claims)

	// A key taken earlier in the same transaction returns that ID.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	first := newDelivery(3, t0)
	first.IdempotencyKey = "k"
	second := newDelivery(4, t0)
	second.IdempotencyKey = "k"
	id3, err := s.InsertTx(ctx, tx, first)
	require.NoError(t, err)
	id4, err := s.InsertTx(ctx, tx, second)
	require.NoError(t, err)
	require.Equal(t, id3, id4)
	require.NoError(t, tx.Commit(ctx))

	_, err = s.InsertTx(ctx, nil, first)
	require.Error(t, err)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.InsertTx(done, tx, first)
	require.True(t, errors.Is(err, context.Canceled), err)
}

func TestCloseAndDisableListen(t *testing.T) {
	t.Parallel()
	s, pool, o := setup(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())

	o.DisableListen = true
	quiet := openStore(t, pool, o)
	_, err := quiet.Insert(context.Background(), newDelivery(1, t0))
	require.NoError(t, err)
	select {
	case <-quiet.Wake():
		t.Fatal("a store without a listener woke")
	default:
	}
}
