package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stretchr/testify/require"
)

func TestOpenCreatesSchemaInWALMode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		opts []Option
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{
		"default is FULL": {want: 2},
		"NORMAL on request": {
			opts: []Option{WithSynchronous(SynchronousNormal)},
			want: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, _ := openTemp(t, tc.opts...)
			ctx := context.Background()

			var version, sync int
			var mode string
			require.NoError(t, s.writeDB.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version))
			require.NoError(t, s.writeDB.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
			require.NoError(t, s.writeDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
			require.Equal(t, schemaVersion(), version)
			require.Equal(t, tc.want, sync)
			require.Equal(t, "wal", mode)

			var fk int
			require.NoError(t, s.writeDB.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
			require.Equal(t, 1, fk)
		})
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	for i := range 3 {
		s, err := Open(path)
		require.NoError(t, err, "open #%d", i+1)
		_, err = s.Insert(context.Background(), newDelivery(fmt.Sprintf("d%d", i), t0))
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}

	s, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	list, err := s.List(context.Background(), webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
}

func TestOpenMigratesEmptyFile(t *testing.T) {
	t.Parallel()
	// A file SQLite made but that holds no table yet: version 0.
	path := filepath.Join(t.TempDir(), "webhooks.db")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.Exec("PRAGMA user_version = 0")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	_, err = s.Insert(context.Background(), newDelivery("d1", t0))
	require.NoError(t, err)
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion()+1))
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	s, err := Open(path)
	require.ErrorContains(t, err, "newer than this package knows")
	require.Nil(t, s)
}

func TestOpenRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		path string
		opt  Option
		want string
	}{
		"empty path":        {path: "", opt: WithReadConns(1), want: "path: empty"},
		"synchronous":       {opt: WithSynchronous(Synchronous(7)), want: "WithSynchronous"},
		"busy timeout":      {opt: WithBusyTimeout(-time.Second), want: "WithBusyTimeout"},
		"read connections":  {opt: WithReadConns(0), want: "WithReadConns"},
		"batch size":        {opt: WithMaxBatch(0), want: "WithMaxBatch"},
		"unwritable folder": {path: "/proc/no/such/dir/x.db", opt: WithReadConns(1), want: "open"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if name != "empty path" && path == "" {
				path = filepath.Join(t.TempDir(), "webhooks.db")
			}
			s, err := Open(path, tc.opt)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, s)
			if name != "unwritable folder" {
				require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			}
		})
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a?b#c%d.db")
	s, err := Open(path)
	require.NoError(t, err)
	_, err = s.Insert(context.Background(), newDelivery("d1", t0))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.FileExists(t, path)
}

func TestInsertAndGetRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	d := newDelivery("d1", t0)
	d.IdempotencyKey = "render-42"
	d.SecretKey = "tenant-7"
	d.CreatedAt = t0.Add(-time.Nanosecond)
	d.LastError = "carried over"
	id, err := s.Insert(ctx, d)
	require.NoError(t, err)
	require.Equal(t, "d1", id)

	got, err := s.Get(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, d, got) // t0 is UTC: times come back exact and in UTC

	_, err = s.Get(ctx, "nope")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = s.Attempts(ctx, "nope")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	attempts, err := s.Attempts(ctx, "d1")
	require.NoError(t, err)
	require.NotNil(t, attempts)
	require.Empty(t, attempts)
}

func TestInsertStoresUnclaimedPending(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	d := newDelivery("d1", t0)
	d.Status = webhook.StatusDelivered
	d.LeaseUntil = t0.Add(time.Hour)
	d.FinishedAt = t0
	_, err := s.Insert(context.Background(), d)
	require.NoError(t, err)

	got, err := s.Get(context.Background(), "d1")
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, got.Status)
	require.True(t, got.LeaseUntil.IsZero())
	require.True(t, got.FinishedAt.IsZero())
	claimOne(t, s, t0, 6)
}

func TestInsertIdempotencyKey(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	first := newDelivery("d1", t0)
	first.IdempotencyKey = "job-1"
	second := newDelivery("d2", t0)
	second.IdempotencyKey = "job-1"

	id, err := s.Insert(ctx, first)
	require.NoError(t, err)
	require.Equal(t, "d1", id)
	id, err = s.Insert(ctx, second)
	require.NoError(t, err)
	require.Equal(t, "d1", id)
	_, err = s.Get(ctx, "d2")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// Empty keys never collide.
	for _, id := range []string{"d3", "d4"} {
		_, err := s.Insert(ctx, newDelivery(id, t0))
		require.NoError(t, err)
	}
	list, err := s.List(ctx, webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 3)
}

func TestInsertRefusesDuplicateAndEmptyID(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	_, err := s.Insert(ctx, newDelivery("d1", t0))
	require.NoError(t, err)

	other := newDelivery("d1", t0.Add(time.Hour))
	_, err = s.Insert(ctx, other)
	require.ErrorContains(t, err, "insert delivery d1")
	got, err := s.Get(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, t0, got.NextAttemptAt)

	_, err = s.Insert(ctx, newDelivery("", t0))
	require.ErrorContains(t, err, "ID: empty")
}

func TestTimesKeepNanosecondsAndZero(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	local := time.FixedZone("CET", 3600)
	tests := map[string]time.Time{
		"nanoseconds": t0.Add(987 * time.Nanosecond),
		"zone":        t0.In(local),
		"zero":        {},
		"far future":  time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for name, at := range tests {
		d := newDelivery(name, at)
		_, err := s.Insert(ctx, d)
		require.NoError(t, err)
		got, err := s.Get(ctx, name)
		require.NoError(t, err)
		switch name {
		case "far future": // clamped, still after any real time
			require.True(t, got.NextAttemptAt.After(t0.AddDate(200, 0, 0)), name)
		default:
			require.True(t, at.Equal(got.NextAttemptAt), "%s: got %v, want %v",
				name, got.NextAttemptAt, at)
		}
		if !at.IsZero() {
			require.Equal(t, time.UTC, got.NextAttemptAt.Location(), name)
		}
	}
}

func TestClaimInDueOrderWithLimitAndSkipHosts(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	// d0..d4 due at t0+0s..t0+4s; d1 goes to another host.
	for i := range 5 {
		d := newDelivery(fmt.Sprintf("d%d", i), t0.Add(time.Duration(4-i)*time.Second))
		if i == 1 {
			d.Host = "slow.example:443"
		}
		_, err := s.Insert(ctx, d)
		require.NoError(t, err)
	}

	// At t0+3s, d1..d4 are due (d4 first); d1's host is skipped.
	cs, err := s.Claim(ctx, t0.Add(3*time.Second), webhook.ClaimRequest{
		Limit: 2, Lease: time.Minute, MaxAttempts: 6, SkipHosts: []string{"slow.example:443"},
	})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.Equal(t, "d4", cs[0].Delivery.ID)
	require.Equal(t, "d3", cs[1].Delivery.ID)
	for _, c := range cs {
		require.Equal(t, 1, c.Delivery.Attempts)
		require.Equal(t, t0.Add(3*time.Second+time.Minute), c.Delivery.LeaseUntil)
		require.NotEmpty(t, c.Token)
	}
	require.NotEqual(t, cs[0].Token, cs[1].Token)

	// A held claim is not handed out again while its lease lives.
	cs, err = s.Claim(ctx, t0.Add(3*time.Second), webhook.ClaimRequest{
		Limit: 10, Lease: time.Minute, MaxAttempts: 6,
	})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.Equal(t, "d2", cs[0].Delivery.ID)
	require.Equal(t, "d1", cs[1].Delivery.ID)

	// Nothing due: an empty, non-nil slice.
	cs, err = s.Claim(ctx, t0.Add(3*time.Second), webhook.ClaimRequest{
		Limit: 10, Lease: time.Minute, MaxAttempts: 6,
	})
	require.NoError(t, err)
	require.NotNil(t, cs)
	require.Empty(t, cs)
}

func TestClaimRefusesBadRequest(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	tests := map[string]struct {
		r    webhook.ClaimRequest
		want string
	}{
		"limit": {r: webhook.ClaimRequest{Limit: 0, Lease: time.Minute}, want: "Limit"},
		"lease": {r: webhook.ClaimRequest{Limit: 1}, want: "Lease"},
	}
	for name, tc := range tests {
		_, err := s.Claim(context.Background(), t0, tc.r)
		require.ErrorContains(t, err, tc.want, name)
	}
}

func TestRecordAppliesOutcome(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	insertN(t, s, 1)

	// Attempt 1 fails: pending again, due in a second.
	c := claimOne(t, s, t0, 6)
	a1 := webhook.Attempt{Number: 1, StartedAt: t0, Duration: 1500 * time.Microsecond,
		StatusCode: 500, ResponseBody: []byte("oops"), Error: "status 500"}
	require.NoError(t, s.Record(ctx, "d0", c.Token, webhook.Result{
		Attempt: a1, Status: webhook.StatusPending, NextAttemptAt: t0.Add(time.Second),
		LastError: "status 500",
	}))
	d, err := s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, d.Status)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, t0.Add(time.Second), d.NextAttemptAt)
	require.True(t, d.LeaseUntil.IsZero())
	require.Equal(t, "status 500", d.LastError)

	// The token is spent.
	require.ErrorIs(t, s.Extend(ctx, "d0", c.Token, t0.Add(time.Hour)), webhook.ErrClaimLost)

	// Attempt 2 succeeds, with a huge body.
	c = claimOne(t, s, t0.Add(time.Second), 6)
	require.Equal(t, 2, c.Delivery.Attempts)
	big := make([]byte, webhook.MaxResponseSnippet+10)
	a2 := webhook.Attempt{Number: 2, StartedAt: t0.Add(time.Second), StatusCode: 204,
		ResponseBody: big}
	require.NoError(t, s.Record(ctx, "d0", c.Token, webhook.Result{
		Attempt: a2, Status: webhook.StatusDelivered, FinishedAt: t0.Add(2 * time.Second),
	}))
	d, err = s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, d.Status)
	require.Equal(t, t0.Add(2*time.Second), d.FinishedAt)
	require.Empty(t, d.LastError)

	attempts, err := s.Attempts(ctx, "d0")
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.Equal(t, a1, attempts[0])
	require.Equal(t, 2, attempts[1].Number)
	require.Len(t, attempts[1].ResponseBody, webhook.MaxResponseSnippet)

	// Nothing pending now.
	_, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.False(t, ok)

	// A status that is none of the three is refused.
	err = s.Record(ctx, "d0", c.Token, webhook.Result{Status: "maybe"})
	require.ErrorContains(t, err, "Result.Status")
}

func TestExtendAndRelease(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	insertN(t, s, 1)

	c := claimOne(t, s, t0, 6)
	require.NoError(t, s.Extend(ctx, "d0", c.Token, t0.Add(5*time.Minute)))
	d, err := s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, t0.Add(5*time.Minute), d.LeaseUntil)
	require.ErrorIs(t, s.Extend(ctx, "d0", "forged", t0), webhook.ErrClaimLost)
	require.ErrorIs(t, s.Release(ctx, "d0", "forged"), webhook.ErrClaimLost)

	require.NoError(t, s.Release(ctx, "d0", c.Token))
	d, err = s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, 0, d.Attempts)
	require.Equal(t, t0, d.NextAttemptAt)
	require.True(t, d.LeaseUntil.IsZero())
	require.ErrorIs(t, s.Release(ctx, "d0", c.Token), webhook.ErrClaimLost)

	// The released attempt's number is handed out again.
	c = claimOne(t, s, t0, 6)
	require.Equal(t, 1, c.Delivery.Attempts)
}

func TestTakeoverOfExpiredClaim(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	insertN(t, s, 1)

	old := claimOne(t, s, t0, 6)
	lease := old.Delivery.LeaseUntil

	// Before the lease runs out nobody else gets it; NextDue points at it.
	cs, err := s.Claim(ctx, lease.Add(-time.Nanosecond),
		webhook.ClaimRequest{Limit: 1, Lease: time.Minute, MaxAttempts: 6})
	require.NoError(t, err)
	require.Empty(t, cs)
	at, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, lease, at)

	// A lease that ran out still holds until someone takes over.
	require.NoError(t, s.Extend(ctx, "d0", old.Token, lease))

	// At the lease's end the delivery is taken over.
	taken := claimOne(t, s, lease, 6)
	require.Equal(t, 2, taken.Delivery.Attempts)
	require.NotEqual(t, old.Token, taken.Token)
	require.Equal(t, interruptedError, taken.Delivery.LastError)

	attempts, err := s.Attempts(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, []webhook.Attempt{{
		Number: 1, StartedAt: t0, Duration: lease.Sub(t0),
		Error: interruptedError, Interrupted: true,
	}}, attempts)

	// The old holder is refused everywhere, and its Record changes nothing.
	before, err := s.Get(ctx, "d0")
	require.NoError(t, err)
	err = s.Record(ctx, "d0", old.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: lease,
	})
	require.ErrorIs(t, err, webhook.ErrClaimLost)
	require.ErrorIs(t, s.Extend(ctx, "d0", old.Token, lease.Add(time.Hour)), webhook.ErrClaimLost)
	require.ErrorIs(t, s.Release(ctx, "d0", old.Token), webhook.ErrClaimLost)
	after, err := s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, before, after)
	attempts, err = s.Attempts(ctx, "d0")
	require.NoError(t, err)
	require.Len(t, attempts, 1)

	// The new holder records as usual.
	require.NoError(t, s.Record(ctx, "d0", taken.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 2, StartedAt: lease, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: lease,
	}))
}

func TestTakeoverOfLastAttemptFails(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	insertN(t, s, 2) // d0 due at t0, d1 at t0+1s

	// d0 is on its second and last attempt when its holder vanishes.
	c := claimOne(t, s, t0, 2)
	require.NoError(t, s.Record(ctx, "d0", c.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: t0, Error: "refused"},
		Status:  webhook.StatusPending, NextAttemptAt: t0, LastError: "refused",
	}))
	c = claimOne(t, s, t0, 2)
	require.Equal(t, 2, c.Delivery.Attempts)

	// The takeover fails d0 and, with Limit 1, still claims d1.
	now := c.Delivery.LeaseUntil
	cs, err := s.Claim(ctx, now, webhook.ClaimRequest{Limit: 1, Lease: time.Minute, MaxAttempts: 2})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, "d1", cs[0].Delivery.ID)

	d, err := s.Get(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, webhook.StatusFailed, d.Status)
	require.Equal(t, 2, d.Attempts)
	require.Equal(t, now, d.FinishedAt)
	require.True(t, d.LeaseUntil.IsZero())
	require.Equal(t, lastInterrupted, d.LastError)
	require.Error(t, d.Err())

	attempts, err := s.Attempts(ctx, "d0")
	require.NoError(t, err)
	require.Len(t, attempts, 2)
	require.True(t, attempts[1].Interrupted)
	require.Equal(t, 2, attempts[1].Number)
	require.ErrorIs(t, s.Record(ctx, "d0", c.Token, webhook.Result{Status: webhook.StatusDelivered}),
		webhook.ErrClaimLost)
}

func TestNextDue(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	_, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.False(t, ok)

	insertN(t, s, 2) // due at t0, t0+1s
	at, ok, err := s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0, at)

	// With d0 claimed the earliest is d1's due time, before d0's lease.
	c := claimOne(t, s, t0, 6)
	at, _, err = s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Second), at)

	// With d1 finished, d0's lease.
	c1 := claimOne(t, s, t0.Add(time.Second), 6)
	require.NoError(t, s.Record(ctx, "d1", c1.Token, webhook.Result{
		Status: webhook.StatusFailed, FinishedAt: t0,
	}))
	at, _, err = s.NextDue(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, c.Delivery.LeaseUntil, at)
}

func TestListFiltersAndOrders(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()

	// Created in reverse ID order, two with the same time (ties by ID).
	created := []time.Duration{3, 2, 2, 0}
	for i, c := range created {
		d := newDelivery(fmt.Sprintf("d%d", i), t0)
		d.CreatedAt = t0.Add(c * time.Second)
		d.ProductionID = "p-even"
		if i%2 == 1 {
			d.ProductionID = "p-odd"
		}
		_, err := s.Insert(ctx, d)
		require.NoError(t, err)
	}
	c := claimOne(t, s, t0, 6)
	require.NoError(t, s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
		Status: webhook.StatusDelivered, FinishedAt: t0,
	}))
	require.Equal(t, "d0", c.Delivery.ID) // due at the same time: ties by ID

	ids := func(ds []webhook.Delivery) []string {
		out := []string{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return out
	}
	tests := map[string]struct {
		f    webhook.Filter
		want []string
	}{
		"all":        {f: webhook.Filter{}, want: []string{"d3", "d1", "d2", "d0"}},
		"limit":      {f: webhook.Filter{Limit: 2}, want: []string{"d3", "d1"}},
		"production": {f: webhook.Filter{ProductionID: "p-odd"}, want: []string{"d3", "d1"}},
		"delivered":  {f: webhook.Filter{Status: webhook.StatusDelivered}, want: []string{"d0"}},
		"both": {
			f:    webhook.Filter{Status: webhook.StatusPending, ProductionID: "p-even"},
			want: []string{"d2"},
		},
		"none": {f: webhook.Filter{Status: webhook.StatusFailed}, want: []string{}},
	}
	for name, tc := range tests {
		got, err := s.List(ctx, tc.f)
		require.NoError(t, err, name)
		require.Equal(t, tc.want, ids(got), name)
	}

	_, err := s.List(ctx, webhook.Filter{Limit: -1})
	require.ErrorContains(t, err, "Filter.Limit")
}

func TestPurge(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	ctx := context.Background()
	insertN(t, s, 4)

	// d0 delivered at t0, d1 failed at t0+1h, d2 claimed, d3 pending.
	finish := map[string]struct {
		status webhook.Status
		at     time.Time
	}{
		"d0": {webhook.StatusDelivered, t0},
		"d1": {webhook.StatusFailed, t0.Add(time.Hour)},
	}
	for range 2 {
		c := claimOne(t, s, t0.Add(time.Second), 6)
		f := finish[c.Delivery.ID]
		require.NoError(t, s.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
			Attempt: webhook.Attempt{Number: 1, StartedAt: t0},
			Status:  f.status, FinishedAt: f.at,
		}))
	}
	claimOne(t, s, t0.Add(2*time.Second), 6)

	n, err := s.Purge(ctx, t0) // nothing finished before t0
	require.NoError(t, err)
	require.Equal(t, 0, n)
	n, err = s.Purge(ctx, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.Get(ctx, "d0")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = s.Attempts(ctx, "d0")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	n, err = s.Purge(ctx, t0.AddDate(10, 0, 0))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	list, err := s.List(ctx, webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, list, 2) // d2 and d3, pending, stay

	var orphans int
	require.NoError(t, s.readDB.QueryRow(`SELECT count(*) FROM attempts`).Scan(&orphans))
	require.Equal(t, 0, orphans)
}

func TestCancelledContextHasNoEffect(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	insertN(t, s, 1)
	c := claimOne(t, s, t0, 6)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"Insert": func() error { _, err := s.Insert(ctx, newDelivery("x", t0)); return err },
		"Get":    func() error { _, err := s.Get(ctx, "d0"); return err },
		"Attempts": func() error {
			_, err := s.Attempts(ctx, "d0")
			return err
		},
		"List": func() error { _, err := s.List(ctx, webhook.Filter{}); return err },
		"Claim": func() error {
			_, err := s.Claim(ctx, t0.Add(time.Hour), webhook.ClaimRequest{Limit: 1, Lease: 1})
			return err
		},
		"Extend":  func() error { return s.Extend(ctx, "d0", c.Token, t0.Add(time.Hour)) },
		"Release": func() error { return s.Release(ctx, "d0", c.Token) },
		"Record": func() error {
			return s.Record(ctx, "d0", c.Token, webhook.Result{
				Status: webhook.StatusDelivered, FinishedAt: t0,
			})
		},
		"NextDue": func() error { _, _, err := s.NextDue(ctx, nil); return err },
		"Purge":   func() error { _, err := s.Purge(ctx, t0.AddDate(1, 0, 0)); return err },
	}
	for name, call := range calls {
		require.ErrorIs(t, call(), context.Canceled, name)
	}

	bg := context.Background()
	_, err := s.Get(bg, "x")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	d, err := s.Get(bg, "d0")
	require.NoError(t, err)
	require.Equal(t, c.Delivery, d)
	require.NoError(t, s.Record(bg, "d0", c.Token, webhook.Result{
		Status: webhook.StatusDelivered, FinishedAt: t0,
	}))
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	ctx := context.Background()

	s, err := Open(path)
	require.NoError(t, err)
	insertN(t, s, 3)
	// d0: one failed attempt, due again at t0+5s. d1: claimed. d2: untouched.
	c := claimOne(t, s, t0, 6)
	a := webhook.Attempt{Number: 1, StartedAt: t0, Duration: time.Millisecond,
		StatusCode: 503, ResponseBody: []byte("busy"), Error: "status 503"}
	require.NoError(t, s.Record(ctx, "d0", c.Token, webhook.Result{
		Attempt: a, Status: webhook.StatusPending, NextAttemptAt: t0.Add(5 * time.Second),
		LastError: "status 503",
	}))
	held := claimOne(t, s, t0.Add(time.Second), 6)
	require.Equal(t, "d1", held.Delivery.ID)
	want := map[string]webhook.Delivery{}
	for _, id := range []string{"d0", "d1", "d2"} {
		want[id], err = s.Get(ctx, id)
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())

	s, err = Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	for id, w := range want {
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, w, got, id)
	}
	require.Equal(t, t0.Add(5*time.Second), want["d0"].NextAttemptAt)
	attempts, err := s.Attempts(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, []webhook.Attempt{a}, attempts)

	// The claim survived: its token still records.
	require.NoError(t, s.Record(ctx, "d1", held.Token, webhook.Result{
		Attempt: webhook.Attempt{Number: 1, StartedAt: t0, StatusCode: 200},
		Status:  webhook.StatusDelivered, FinishedAt: t0.Add(time.Second),
	}))
}

func TestConcurrentWritesNeverLock(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	// A second Store on the same file writes too, through SQLite's lock.
	other, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, other.Close()) }()

	const goroutines, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each*2)
	for g := range goroutines {
		st := s
		if g%4 == 3 {
			st = other
		}
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				id := fmt.Sprintf("g%d-%d", g, i)
				if _, err := st.Insert(ctx, newDelivery(id, t0)); err != nil {
					errs <- err
					continue
				}
				cs, err := st.Claim(ctx, t0, webhook.ClaimRequest{Limit: 1, Lease: time.Minute})
				if err != nil {
					errs <- err
					continue
				}
				for _, c := range cs {
					errs <- st.Record(ctx, c.Delivery.ID, c.Token, webhook.Result{
						Attempt: webhook.Attempt{Number: c.Delivery.Attempts},
						Status:  webhook.StatusDelivered, FinishedAt: t0,
					})
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	list, err := s.List(context.Background(), webhook.Filter{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, list, goroutines*each)
	for _, d := range list {
		attempts, err := s.Attempts(context.Background(), d.ID)
		require.NoError(t, err)
		require.LessOrEqual(t, len(attempts), 1, d.ID)
	}
}

func TestClosedStore(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())

	ctx := context.Background()
	_, err = s.Insert(ctx, newDelivery("d1", t0))
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.Get(ctx, "d1")
	require.ErrorIs(t, err, ErrClosed)
	_, err = s.Claim(ctx, t0, webhook.ClaimRequest{Limit: 1, Lease: time.Minute})
	require.ErrorIs(t, err, ErrClosed)
	_, _, err = s.NextDue(ctx, nil)
	require.ErrorIs(t, err, ErrClosed)
}

func TestTakeoverWithoutMaxAttemptsNeverFails(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	insertN(t, s, 1)

	now := t0
	for want := 1; want <= 8; want++ {
		c := claimOne(t, s, now, 0)
		require.Equal(t, want, c.Delivery.Attempts)
		now = c.Delivery.LeaseUntil
	}
	attempts, err := s.Attempts(context.Background(), "d0")
	require.NoError(t, err)
	require.Len(t, attempts, 7)
	for i, a := range attempts {
		require.Equal(t, i+1, a.Number)
		require.True(t, a.Interrupted)
		require.Equal(t, time.Minute, a.Duration)
	}
}
