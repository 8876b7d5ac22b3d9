package webhook

// This file holds the Dispatcher: its construction, its lifecycle (Start,
// Stop, StopAndCancel) and the scheduling loop that claims due deliveries.
// One attempt is made by attempt.go; Send and NewDelivery are in send.go.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Dispatcher delivers webhooks. It stores each delivery in its Store before
// Send returns, attempts it at once, retries it on its Schedule, and records
// every attempt's outcome. A delivery waiting for a retry costs no
// goroutine: a bounded set of attempts runs at once, and one timer waits
// for the earliest due time.
//
// A Dispatcher is safe for concurrent use. Several Dispatchers, in one
// process or many, may share a Store that supports it; a delivery is then
// attempted by one of them at a time.
type Dispatcher struct {
	cfg         Config
	client      *http.Client
	clock       Clock
	log         *slog.Logger
	maxAttempts int
	policy      *policy  // Config.Allow, parsed: the SSRF guard's (guard.go)
	signingKeys [][]byte // Config.SigningSecrets, parsed (signature.go)

	mu       sync.Mutex
	state    dispatcherState
	busy     int              // attempts in flight
	perHost  map[string]int   // attempts in flight by host key
	inFlight map[string]bool  // IDs of the deliveries being attempted
	queued   map[string]Claim // claims to start once their own attempt ends
	attempts sync.WaitGroup   // one per attempt in flight

	wake chan struct{} // pokes the loop; buffered, never blocks
	quit chan struct{} // closed when stopping: claim nothing more
	done chan struct{} // closed when the loop has returned

	// attemptCtx parents every attempt; StopAndCancel cancels it.
	attemptCtx    context.Context
	cancelAttempt context.CancelCauseFunc

	stopped  chan struct{} // closed once fully stopped
	stopOnce sync.Once
}

type dispatcherState int

const (
	stateNew dispatcherState = iota
	stateRunning
	stateStopping
)

// storeTimeout bounds the Dispatcher's own store calls, which run outside
// any caller's context.
const storeTimeout = 30 * time.Second

// New returns a Dispatcher for cfg. It validates cfg, filling every zero
// field with its default, and returns an error wrapping ErrInvalidConfig
// that names the field at fault. It starts nothing: call Start.
func New(cfg Config) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	maxAttempts, err := cfg.Schedule.maxAttempts()
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:         cfg,
		clock:       cfg.Clock,
		log:         cfg.Logger,
		maxAttempts: maxAttempts,
		perHost:     make(map[string]int),
		inFlight:    make(map[string]bool),
		queued:      make(map[string]Claim),
		wake:        make(chan struct{}, 1),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	d.client, err = newClient(d.cfg)
	if err != nil {
		return nil, err
	}
	if d.policy, err = newPolicy(cfg.Allow); err != nil {
		return nil, err
	}
	if d.signingKeys, err = parseSigningSecrets(cfg); err != nil {
		return nil, err
	}
	d.attemptCtx, d.cancelAttempt = context.WithCancelCause(context.Background())
	return d, nil
}

// Start begins delivering: it resumes the deliveries pending in the Store,
// attempting at once those already due, and from then on attempts each
// delivery when it falls due. It returns ErrStopped after a stop, and nil
// if already started.
func (d *Dispatcher) Start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.state {
	case stateRunning:
		return nil
	case stateStopping:
		return ErrStopped
	}
	d.state = stateRunning
	go d.loop()
	return nil
}

// Stop stops gracefully: no new attempt starts, attempts in flight run to
// their outcome, and every pending delivery stays in the Store with its due
// time, for the next Start (of this process or another). ctx bounds only
// the wait for attempts in flight: if it ends first, Stop returns an error
// wrapping ctx.Err() while those attempts go on; StopAndCancel then ends
// them. Stop may be called more than once, and before Start.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.beginStop()
	select {
	case <-d.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhook: stop: %w", ctx.Err())
	}
}

// StopAndCancel stops at once: like Stop, but attempts in flight are
// cancelled. Each cancelled attempt counts as made and is logged with an
// error; the delivery is retried on its schedule by the next Start. ctx
// bounds only the wait for the cancelled attempts to record their outcome.
func (d *Dispatcher) StopAndCancel(ctx context.Context) error {
	d.beginStop()
	d.cancelAttempt(errHardStop)
	return d.Stop(ctx)
}

// Stopped returns a channel closed once the Dispatcher has fully stopped:
// its loop has returned and no attempt is in flight.
func (d *Dispatcher) Stopped() <-chan struct{} { return d.stopped }

// beginStop moves to stateStopping once and arranges for d.stopped to be
// closed when the loop and every attempt have finished.
func (d *Dispatcher) beginStop() {
	d.stopOnce.Do(func() {
		d.mu.Lock()
		started := d.state == stateRunning
		d.state = stateStopping
		d.mu.Unlock()

		close(d.quit)
		go func() {
			if started {
				<-d.done
			}
			d.attempts.Wait()
			d.cancelAttempt(errHardStop)
			d.client.CloseIdleConnections()
			close(d.stopped)
		}()
	})
}

// poke wakes the loop without blocking.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// storeCtx returns a context for one of the Dispatcher's own store calls.
func (d *Dispatcher) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// loop claims due deliveries and starts their attempts, then sleeps on one
// timer until the earliest due time, the next poll or purge, a wake from an
// attempt that finished or a Send, or a stop.
func (d *Dispatcher) loop() {
	defer close(d.done)

	var storeWake <-chan struct{}
	if w, ok := d.cfg.Store.(Waker); ok {
		storeWake = w.Wake()
	}
	timer := d.clock.NewTimer(time.Hour)
	defer timer.Stop()
	nextPurge := d.clock.Now()
	lookedAgain := false

	for {
		select {
		case <-d.quit:
			return
		default:
		}
		now := d.clock.Now()
		if d.cfg.Retention > 0 && !now.Before(nextPurge) {
			d.purge(now)
			nextPurge = now.Add(purgeInterval(d.cfg.Retention))
		}

		// Claim what can be started now. A full batch means more may be due;
		// so does a batch that held more for a host than its cap allowed:
		// that host is skipped from now on, and the others may have more.
		c := d.claimDue(now)
		if c.started > 0 {
			lookedAgain = false
			if c.started == c.asked || c.overCap {
				continue
			}
		}

		// Sleep until the earliest due time, at most one poll interval. A due
		// time in the past that could not be claimed (workers or hosts at
		// their cap) waits for an attempt to finish, which pokes the loop; a
		// store that failed is asked again after a poll interval.
		wait := d.cfg.PollInterval
		full, _ := d.hostSlots()
		if at, ok := d.nextDue(full); ok && !c.failed {
			if due := at.Sub(now); due > 0 {
				wait = min(wait, due)
			} else if c.asked > c.started && !lookedAgain {
				// Due on a host below its cap, and workers are free: a host
				// this claim filled to its cap held the batch back, or an
				// insert came between Claim and NextDue. Look again, once
				// unless that claim starts something.
				wait, lookedAgain = 0, true
			}
		}
		if d.cfg.Retention > 0 {
			wait = min(wait, max(nextPurge.Sub(now), 0))
		}
		if wait <= 0 {
			continue
		}
		d.resetTimer(timer, now, wait)

		select {
		case <-d.quit:
			return
		case <-timer.C():
		case <-d.wake:
		case <-storeWake:
		}
		lookedAgain = false
	}
}

// resetTimer arms timer to fire wait after now. If the clock moved while the
// loop was computing wait (a test advancing a fake clock, say), the timer is
// re-armed from the new time so that it never fires late.
func (d *Dispatcher) resetTimer(timer Timer, now time.Time, wait time.Duration) {
	deadline := now.Add(wait)
	for range 3 {
		at := d.clock.Now()
		timer.Stop()
		timer.Reset(max(deadline.Sub(at), 0))
		if d.clock.Now().Equal(at) {
			return
		}
	}
}

// purgeInterval is how often finished deliveries are purged: a tenth of the
// retention window, between a minute and an hour.
func purgeInterval(retention time.Duration) time.Duration {
	return min(max(retention/10, time.Minute), time.Hour)
}

func (d *Dispatcher) purge(now time.Time) {
	ctx, cancel := d.storeCtx()
	defer cancel()
	n, err := d.cfg.Store.Purge(ctx, now.Add(-d.cfg.Retention))
	if err != nil {
		d.log.Error("webhook purge failed", slog.String(keyError, err.Error()))
		return
	}
	if n > 0 {
		d.log.Debug("webhook purge", slog.Int(keyPurged, n))
	}
}

// nextDue asks the store when the next delivery for a host not in skip is
// due, so that hosts at their cap, whose attempts in flight will poke the
// loop when they end, do not hide another host's due time.
func (d *Dispatcher) nextDue(skip []string) (time.Time, bool) {
	ctx, cancel := d.storeCtx()
	defer cancel()
	at, ok, err := d.cfg.Store.NextDue(ctx, skip)
	if err != nil {
		d.log.Error("webhook store next due failed", slog.String(keyError, err.Error()))
		return time.Time{}, false
	}
	return at, ok
}

// claimed is what one claimDue did.
type claimed struct {
	asked   int  // deliveries asked for: the free workers
	started int  // attempts started
	overCap bool // the batch held more for a host than its cap: released
	failed  bool // the store's Claim failed
}

// claimDue claims as many due deliveries as there are free workers, hosts
// at their cap skipped, and starts an attempt for each. Deliveries it
// cannot start (their host reached its cap within the batch, or the
// Dispatcher is stopping) are released at once.
func (d *Dispatcher) claimDue(now time.Time) claimed {
	skip, slots := d.hostSlots()
	d.mu.Lock()
	free := d.cfg.Workers - d.busy
	d.mu.Unlock()
	c := claimed{asked: max(free, 0)}
	if free <= 0 {
		return c
	}

	ctx, cancel := d.storeCtx()
	claims, err := d.cfg.Store.Claim(ctx, now, ClaimRequest{
		Limit:       free,
		Lease:       d.cfg.Lease,
		MaxAttempts: d.maxAttempts,
		SkipHosts:   skip,
		PerHost:     d.cfg.PerHostLimit,
		HostSlots:   slots,
	})
	cancel()
	if err != nil {
		d.log.Error("webhook store claim failed", slog.String(keyError, err.Error()))
		c.failed = true
		return c
	}

	for _, cl := range claims {
		switch d.reserve(cl) {
		case started:
			c.started++
			go d.attempt(cl)
		case queued:
		default:
			c.overCap = true
			d.release(cl)
		}
	}
	return c
}

// hostSlots returns the hosts at their cap, and the free slots of the
// other hosts that have attempts in flight.
func (d *Dispatcher) hostSlots() (full []string, free map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for host, n := range d.perHost {
		if n >= d.cfg.PerHostLimit {
			full = append(full, host)
			continue
		}
		if free == nil {
			free = make(map[string]int)
		}
		free[host] = d.cfg.PerHostLimit - n
	}
	return full, free
}

// What reserve did with a claim.
type reservation int

const (
	started reservation = iota // counted in flight: start its attempt
	queued                     // its delivery's earlier attempt still runs
	refused                    // stopping, or its host at its cap: release it
)

// reserve counts the attempt of a claimed delivery as in flight, unless the
// Dispatcher is stopping or the delivery's host is at its cap. A delivery
// whose earlier attempt still runs here is queued instead, to start when
// that attempt ends: the store hands a delivery out again only when the
// clock jumps past a lease while its attempt runs (a paused machine, a
// stepped clock, a fake clock advanced far), and one delivery is never
// attempted twice at once.
func (d *Dispatcher) reserve(c Claim) reservation {
	d.mu.Lock()
	defer d.mu.Unlock()
	del := c.Delivery
	switch {
	case d.state != stateRunning:
		return refused
	case d.inFlight[del.ID]:
		d.queued[del.ID] = c
		return queued
	case d.perHost[del.Host] >= d.cfg.PerHostLimit:
		return refused
	}
	d.busy++
	d.perHost[del.Host]++
	d.inFlight[del.ID] = true
	d.attempts.Add(1)
	return started
}

// unreserve undoes reserve once an attempt has finished, starts the claim
// queued behind it if any, and pokes the loop: a worker and a host slot
// are free.
func (d *Dispatcher) unreserve(del Delivery) {
	d.mu.Lock()
	d.busy--
	if d.perHost[del.Host]--; d.perHost[del.Host] <= 0 {
		delete(d.perHost, del.Host)
	}
	delete(d.inFlight, del.ID)
	next, ok := d.queued[del.ID]
	delete(d.queued, del.ID)
	d.mu.Unlock()

	if ok {
		if d.reserve(next) == started {
			go d.attempt(next)
		} else {
			d.release(next)
		}
	}
	d.attempts.Done()
	d.poke()
}

func (d *Dispatcher) release(c Claim) {
	ctx, cancel := d.storeCtx()
	defer cancel()
	err := d.cfg.Store.Release(ctx, c.Delivery.ID, c.Token)
	if err != nil && !errors.Is(err, ErrClaimLost) {
		d.log.Error("webhook store release failed",
			slog.String(keyDeliveryID, c.Delivery.ID), slog.String(keyError, err.Error()))
	}
}

// Delivery returns the delivery with the given ID as the Store holds it,
// or an error wrapping ErrNotFound.
func (d *Dispatcher) Delivery(ctx context.Context, id string) (Delivery, error) {
	return d.cfg.Store.Get(ctx, id)
}

// Attempts returns the attempt log of the delivery with the given ID, in
// attempt order, or an error wrapping ErrNotFound.
func (d *Dispatcher) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	return d.cfg.Store.Attempts(ctx, id)
}
