package sqlitestore_test

// Restart tests: a Dispatcher on a SQLite file is stopped, or dies with an
// attempt in flight, and a new Dispatcher on a new Store opened on the same
// file takes over. Time is a fake clock; nothing sleeps.

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
	"github.com/stratakit/webhook/webhooktest"
)

// restart is a SQLite file that one Dispatcher after another runs on, all
// on one fake clock and sending to one recording receiver.
type restart struct {
	path     string
	clock    *webhooktest.Clock
	recv     *webhooktest.Receiver
	outcomes *webhooktest.Outcomes
	cfg      webhook.Config
}

func newRestart(t *testing.T, configure ...func(*webhook.Config)) *restart {
	t.Helper()
	f := &restart{
		path:     filepath.Join(t.TempDir(), "webhooks.db"),
		clock:    webhooktest.NewClock(time.Time{}),
		outcomes: &webhooktest.Outcomes{},
	}
	f.recv = webhooktest.NewReceiver(t, webhooktest.WithClock(f.clock))
	f.cfg = webhook.Config{Clock: f.clock, OnAttempt: f.outcomes.Observe}
	for _, c := range configure {
		c(&f.cfg)
	}
	return f
}

// process is one life of the sender: a Store opened on the file, wrapped
// in a probe, and a started Dispatcher on it.
type process struct {
	store *sqlitestore.Store
	probe *probeStore
	d     *webhook.Dispatcher
}

// start opens a new Store on the file and starts a Dispatcher on it. When
// the test ends the Dispatcher is stopped hard, then the Store closed.
func (f *restart) start(t *testing.T) *process {
	t.Helper()
	return f.startProbed(t, newProbe)
}

// startProbed is start with a probe of the caller's making.
func (f *restart) startProbed(t *testing.T, probe func(webhook.Store) *probeStore) *process {
	t.Helper()
	s, err := sqlitestore.Open(f.path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	p := &process{store: s, probe: probe(s)}
	cfg := f.cfg
	cfg.Store = p.probe
	p.d = webhooktest.NewDispatcher(t, cfg)
	return p
}

// stop stops the Dispatcher gracefully and closes its Store, as a process
// that shuts down cleanly does.
func (p *process) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), webhooktest.WaitLimit)
	defer cancel()
	require.NoError(t, p.d.Stop(ctx))
	require.NoError(t, p.store.Close())
}

// die ends the process as a crash would: from now on none of its writes
// reaches the file, so the attempt in flight is never recorded. The
// Dispatcher is then stopped hard, to free its goroutines, and the Store
// closed.
func (p *process) die(t *testing.T) {
	t.Helper()
	p.probe.dead.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), webhooktest.WaitLimit)
	defer cancel()
	require.NoError(t, p.d.StopAndCancel(ctx))
	require.NoError(t, p.store.Close())
}

func (f *restart) send(t *testing.T, p *process, productionID string) string {
	t.Helper()
	e, err := webhook.Completed(productionID,
		"https://assets.stratakit.io/v/"+productionID+".mp4", f.clock.Now())
	require.NoError(t, err)
	id, err := p.d.Send(context.Background(), f.recv.URL()+"/hooks", e)
	require.NoError(t, err)
	return id
}

// errDead is what a dead process's writes fail with.
var errDead = errors.New("the process is dead")

// probeStore wraps a Store. It reports every Claim the Dispatcher makes,
// so that a test knows the Dispatcher has looked for due work at a given
// time, and once dead it fails every write.
type probeStore struct {
	webhook.Store
	claims chan claimCall
	dead   atomic.Bool

	// With a gate, the first Claim that hands out a delivery signals
	// entered and then waits until gate is closed before it returns.
	gate     chan struct{}
	entered  chan struct{}
	gateOnce sync.Once
}

// claimCall is one Claim: the time the Dispatcher passed and how many
// deliveries it got.
type claimCall struct {
	now     time.Time
	claimed int
}

func newProbe(s webhook.Store) *probeStore {
	return &probeStore{Store: s, claims: make(chan claimCall, 1000)}
}

func (p *probeStore) Claim(ctx context.Context, now time.Time, r webhook.ClaimRequest) (
	[]webhook.Claim, error) {
	if p.dead.Load() {
		return nil, errDead
	}
	cs, err := p.Store.Claim(ctx, now, r)
	if err == nil {
		select {
		case p.claims <- claimCall{now: now, claimed: len(cs)}:
		default:
		}
	}
	if len(cs) > 0 && p.gate != nil {
		p.gateOnce.Do(func() {
			close(p.entered)
			<-p.gate
		})
	}
	return cs, err
}

func (p *probeStore) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	if p.dead.Load() {
		return "", errDead
	}
	return p.Store.Insert(ctx, d)
}

func (p *probeStore) Extend(ctx context.Context, id, token string, until time.Time) error {
	if p.dead.Load() {
		return errDead
	}
	return p.Store.Extend(ctx, id, token, until)
}

func (p *probeStore) Release(ctx context.Context, id, token string) error {
	if p.dead.Load() {
		return errDead
	}
	return p.Store.Release(ctx, id, token)
}

func (p *probeStore) Record(ctx context.Context, id, token string, r webhook.Result) error {
	if p.dead.Load() {
		return errDead
	}
	return p.Store.Record(ctx, id, token, r)
}

func (p *probeStore) Purge(ctx context.Context, before time.Time) (int, error) {
	if p.dead.Load() {
		return 0, errDead
	}
	return p.Store.Purge(ctx, before)
}

// nextClaim waits for the Dispatcher's next Claim.
func (p *probeStore) nextClaim(t *testing.T) claimCall {
	t.Helper()
	select {
	case c := <-p.claims:
		return c
	case <-time.After(webhooktest.WaitLimit):
		t.Fatalf("no Claim within %v", webhooktest.WaitLimit)
		return claimCall{}
	}
}

// claimedBy drains the Claims a stopped process made and returns how many
// deliveries they handed it.
func claimedBy(p *process) int {
	n := 0
	for {
		select {
		case c := <-p.probe.claims:
			n += c.claimed
		default:
			return n
		}
	}
}

// deliveryNumbers returns the X-StrataKit-Delivery of each request, and
// checks that all of them are for delivery id.
func deliveryNumbers(t *testing.T, id string, reqs []webhooktest.Request) []int {
	t.Helper()
	var out []int
	for _, r := range reqs {
		require.Equal(t, id, r.Header.Get(webhook.HeaderWebhookID))
		n, err := strconv.Atoi(r.Header.Get(webhook.HeaderDelivery))
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

func TestRestartResumesAtStoredDueTime(t *testing.T) {
	t.Parallel()
	f := newRestart(t)
	f.recv.FailTimes(1)
	first := f.start(t)
	id := f.send(t, first, "p-resume")
	o := f.outcomes.Wait(t, 1)[0]
	require.Equal(t, webhook.StatusPending, o.Delivery.Status)
	due := o.Delivery.NextAttemptAt
	require.Equal(t, f.clock.Now().Add(time.Second), due)
	first.stop(t)

	// Down for part of the wait; the new process must not restart the
	// schedule from its own start.
	f.clock.Advance(400 * time.Millisecond)
	second := f.start(t)
	look := second.probe.nextClaim(t)
	require.Zero(t, look.claimed, "not due at start")
	f.clock.Set(due.Add(-time.Nanosecond))
	require.Len(t, f.recv.Requests(), 1, "attempt 2 before its due time")

	f.clock.Set(due)
	o = f.outcomes.Wait(t, 2)[1]
	require.Equal(t, 2, o.Attempt.Number)
	require.Equal(t, due, o.Attempt.StartedAt, "attempt 2 at its stored due time")
	require.Equal(t, webhook.StatusDelivered, o.Delivery.Status)

	reqs := f.recv.WaitRequests(t, 2)
	require.Equal(t, []int{1, 2}, deliveryNumbers(t, id, reqs))
	require.Equal(t, due, reqs[1].Time)
	log, err := second.d.Attempts(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, http.StatusInternalServerError, log[0].StatusCode)
	require.Equal(t, http.StatusOK, log[1].StatusCode)
	require.Equal(t, []int{1, 2}, []int{log[0].Number, log[1].Number})
}

func TestRestartAttemptsOverdueDeliveryOnceAtStart(t *testing.T) {
	t.Parallel()
	f := newRestart(t)
	f.recv.FailTimes(2)
	first := f.start(t)
	id := f.send(t, first, "p-overdue")
	o := f.outcomes.Wait(t, 1)[0]
	require.Equal(t, webhook.StatusPending, o.Delivery.Status)
	first.stop(t)

	// Down for an hour: attempt 2 fell due 59 minutes ago, and attempts 3
	// to 5 would have too on the old schedule. One attempt is made, at
	// once, and the schedule goes on from it.
	f.clock.Advance(time.Hour)
	startedAt := f.clock.Now()
	second := f.start(t)
	require.Equal(t, 1, second.probe.nextClaim(t).claimed)
	o = f.outcomes.Wait(t, 2)[1]
	require.Equal(t, 2, o.Attempt.Number)
	require.Equal(t, startedAt, o.Attempt.StartedAt, "at once, without the clock moving")
	require.Equal(t, webhook.StatusPending, o.Delivery.Status)
	require.Equal(t, startedAt.Add(5*time.Second), o.Delivery.NextAttemptAt)

	// The attempt's end woke the loop, which found nothing more due.
	require.Zero(t, second.probe.nextClaim(t).claimed)
	second.stop(t)
	require.Len(t, f.recv.Requests(), 2)

	// A third process, at the same instant: attempt 3 is not due yet.
	third := f.start(t)
	require.Zero(t, third.probe.nextClaim(t).claimed)
	require.Len(t, f.recv.Requests(), 2)
	f.clock.Set(startedAt.Add(5 * time.Second))
	o = f.outcomes.Wait(t, 3)[2]
	require.Equal(t, 3, o.Attempt.Number)
	require.Equal(t, webhook.StatusDelivered, o.Delivery.Status)
	require.Equal(t, []int{1, 2, 3}, deliveryNumbers(t, id, f.recv.WaitRequests(t, 3)))
}

// TestOverdueFiresOnceAcrossStartStopCycles starts two processes in turn on
// a file holding an overdue retry. The first stops at once (before its
// loop looks, or with the retry claimed and given back), after making the
// attempt, or between its claim and the attempt. Either way the retry is
// attempted once, as attempt 2, and the second process adds nothing.
func TestOverdueFiresOnceAcrossStartStopCycles(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		lookFirst bool // let the first process claim before it stops
		gated     bool // stop the first process between its claim and attempt
	}{
		"stop at once":                   {},
		"stop after first claim":         {lookFirst: true},
		"stop between claim and attempt": {gated: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newRestart(t)
			f.recv.FailTimes(1)
			p := f.start(t)
			id := f.send(t, p, "p-cycles")
			f.outcomes.Wait(t, 1)
			p.stop(t)
			f.clock.Advance(time.Hour)

			gate := make(chan struct{})
			a := f.startProbed(t, func(s webhook.Store) *probeStore {
				p := newProbe(s)
				if tc.gated {
					p.gate, p.entered = gate, make(chan struct{})
				}
				return p
			})
			var openGate sync.Once
			t.Cleanup(func() { openGate.Do(func() { close(gate) }) })
			claimed := 0
			if tc.lookFirst || tc.gated {
				claimed = a.probe.nextClaim(t).claimed
				require.Equal(t, 1, claimed)
			}
			if tc.gated {
				// A Stop whose context is already done begins the stop and
				// returns: the claim in hand is given back, not attempted.
				<-a.probe.entered
				done, cancel := context.WithCancel(context.Background())
				cancel()
				require.ErrorIs(t, a.d.Stop(done), context.Canceled)
				openGate.Do(func() { close(gate) })
			}
			a.stop(t)
			claimed += claimedBy(a)
			t.Logf("the first process claimed %d, made %d attempts", claimed,
				len(f.outcomes.All())-1)
			if tc.gated {
				require.Len(t, f.outcomes.All(), 1, "the claim was given back, not attempted")
			}
			b := f.start(t)
			if len(f.outcomes.All()) < 2 {
				// The first process stopped before its attempt: the second
				// makes it.
				require.Equal(t, 1, b.probe.nextClaim(t).claimed)
				f.outcomes.Wait(t, 2)
			}
			require.Zero(t, b.probe.nextClaim(t).claimed)
			b.stop(t)

			all := f.outcomes.All()
			require.Len(t, all, 2)
			require.Equal(t, 2, all[1].Attempt.Number)
			require.Equal(t, webhook.StatusDelivered, all[1].Delivery.Status)
			require.Equal(t, []int{1, 2}, deliveryNumbers(t, id, f.recv.Requests()))

			s, err := sqlitestore.Open(f.path)
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Close()) }()
			log, err := s.Attempts(context.Background(), id)
			require.NoError(t, err)
			require.Len(t, log, 2)
		})
	}
}

// TestRestartAfterDeathMidAttempt kills a process while its attempt waits
// for a reply: the claim stays in the file. The next process takes the
// delivery over once the lease has run out, logs the attempt as
// interrupted, and makes the next one, never reusing its number.
func TestRestartAfterDeathMidAttempt(t *testing.T) {
	t.Parallel()
	const lease = 45 * time.Second
	tests := map[string]struct {
		schedule   webhook.Schedule
		failFirst  bool           // the dying attempt is attempt 2, after a 500
		wantStatus webhook.Status // after the takeover
		wantLog    int            // attempt log entries in the end
	}{
		"first attempt dies, the next delivers": {
			schedule:   webhook.DefaultSchedule,
			wantStatus: webhook.StatusDelivered,
			wantLog:    2,
		},
		"last attempt dies, the delivery fails": {
			schedule:   webhook.Delays(time.Second),
			failFirst:  true,
			wantStatus: webhook.StatusFailed,
			wantLog:    2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newRestart(t, func(c *webhook.Config) {
				c.Lease = lease
				c.Schedule = tc.schedule
			})
			dying := 1
			if tc.failFirst {
				dying = 2
				f.recv.Script(webhooktest.Status(http.StatusInternalServerError),
					webhooktest.Hang())
			} else {
				f.recv.Script(webhooktest.Hang())
			}
			p := f.start(t)
			id := f.send(t, p, "p-dies")
			if tc.failFirst {
				o := f.outcomes.Wait(t, 1)[0]
				f.clock.Set(o.Delivery.NextAttemptAt)
			}
			f.recv.WaitRequests(t, dying)
			claimedAt := f.clock.Now()
			p.die(t)
			require.Len(t, f.outcomes.All(), dying-1, "the dead process recorded nothing")

			next := f.start(t)
			held, err := next.store.Get(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, webhook.StatusPending, held.Status)
			require.Equal(t, dying, held.Attempts, "the claimed attempt counts")
			require.Equal(t, claimedAt.Add(lease), held.LeaseUntil)

			// The lease holds until it runs out, to the nanosecond.
			require.Zero(t, next.probe.nextClaim(t).claimed)
			f.clock.Set(held.LeaseUntil.Add(-time.Nanosecond))
			require.Len(t, f.recv.Requests(), dying)
			f.clock.Set(held.LeaseUntil)
			look := next.probe.nextClaim(t)
			require.Equal(t, held.LeaseUntil, look.now)

			if tc.wantStatus == webhook.StatusDelivered {
				require.Equal(t, 1, look.claimed)
				o := f.outcomes.Wait(t, dying)[dying-1]
				require.Equal(t, dying+1, o.Attempt.Number)
				require.Equal(t, held.LeaseUntil, o.Attempt.StartedAt)
				require.Equal(t, webhook.StatusDelivered, o.Delivery.Status)
				reqs := f.recv.WaitRequests(t, dying+1)
				require.Equal(t, []int{1, 2}, deliveryNumbers(t, id, reqs))
			} else {
				// The interrupted attempt was the last: failed, with no
				// request sent.
				require.Zero(t, look.claimed)
				require.Len(t, f.recv.Requests(), dying)
			}
			next.stop(t)

			s, err := sqlitestore.Open(f.path)
			require.NoError(t, err)
			defer func() { require.NoError(t, s.Close()) }()
			d, err := s.Get(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, d.Status)
			require.True(t, d.LeaseUntil.IsZero())
			log, err := s.Attempts(context.Background(), id)
			require.NoError(t, err)
			require.Len(t, log, tc.wantLog)
			for i, a := range log {
				require.Equal(t, i+1, a.Number)
			}
			died := log[dying-1]
			require.True(t, died.Interrupted, "attempt %d was in flight at the death", dying)
			require.NotEmpty(t, died.Error)
			require.Equal(t, claimedAt, died.StartedAt)
			require.Zero(t, died.StatusCode)
			if tc.wantStatus == webhook.StatusDelivered {
				require.False(t, log[dying].Interrupted)
				require.Equal(t, http.StatusOK, log[dying].StatusCode)
			} else {
				require.Equal(t, dying, d.Attempts)
				require.Error(t, d.Err())
			}
		})
	}
}
