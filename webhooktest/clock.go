package webhooktest

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stratakit/webhook"
)

// defaultStart is where a Clock made with a zero start begins.
var defaultStart = time.Date(2026, time.January, 15, 10, 30, 0, 0, time.UTC)

// Clock is a fake [webhook.Clock] whose time moves only when the test calls
// [Clock.Advance] or [Clock.Set]. Make one with [NewClock]; it is safe for
// concurrent use.
//
// Its timers behave as [time.Timer] does since Go 1.23:
//
//   - A timer is active from NewTimer, AfterFunc or Reset until it fires or
//     is stopped. One whose duration is zero or negative fires at once.
//   - Firing sends the timer's deadline on its channel (the
//     time it was set at, for a duration below zero), or calls the
//     AfterFunc function in a goroutine of its own.
//   - Stop and Reset report whether the timer was active. A channel timer
//     that has fired but whose value has not been received still counts as
//     active, as with Go's timers: Stop and Reset take the value back, so
//     after either returns no stale value is received.
//
// Unlike Go's, the channel of a timer is buffered with room for one value,
// so len and cap of C report 1 when a value waits.
//
// A test waits until the code under test is waiting on the clock with
// [Clock.WaitTimers] or [Clock.BlockUntil] before it advances the clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  timerHeap // active timers, earliest deadline first
	seq     uint64    // order in which timers were set, to break ties
	changed broadcast // signalled when the set of active timers changes
}

// NewClock returns a Clock that reads start until it is advanced. A zero
// start means 2026-01-15 10:30:00 UTC, the time of the vendor's example
// event. The monotonic clock reading of start, if any, is dropped.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = defaultStart
	}
	return &Clock{now: start.Round(0)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that sends its deadline on its channel once the
// clock has moved d past the current time.
func (c *Clock) NewTimer(d time.Duration) webhook.Timer {
	t := &timer{clock: c, c: make(chan time.Time, 1), index: -1}
	c.start(t, d)
	return t
}

// AfterFunc returns a timer that calls f in its own goroutine once the clock
// has moved d past the current time. Its C is nil. A nil f does nothing.
func (c *Clock) AfterFunc(d time.Duration, f func()) webhook.Timer {
	if f == nil {
		f = func() {}
	}
	t := &timer{clock: c, f: f, index: -1}
	c.start(t, d)
	return t
}

// Advance moves the clock forward by d and fires, in deadline order, every
// timer due by then; timers with equal deadlines fire in the order in which
// they were set. Each channel receives the deadline of its timer. When
// Advance returns, Now reads the old time plus d. A zero or negative d
// fires nothing and leaves the time as it is.
//
// Timers set or reset by goroutines woken during Advance fire in the same
// call only if they are set before it returns and are due by then, which a
// test cannot rely on: wait for the code under test (WaitTimers, or a
// signal of its own) between steps instead.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.advanceTo(c.now.Add(d))
	}
}

// Set moves the clock forward to t and fires the timers due by then, as
// Advance does. A t at or before the current time changes nothing: the
// clock never goes back, as the monotonic clock that Go's timers run on
// never does.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.advanceTo(t.Round(0))
	}
}

// ActiveTimers returns how many timers are active: set and neither fired
// nor stopped.
func (c *Clock) ActiveTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns the deadline of the earliest active timer; ok is false when
// no timer is active.
func (c *Clock) Next() (deadline time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].when, true
}

// BlockUntil blocks until at least n timers are active, or until ctx is
// done, when it returns an error wrapping ctx.Err(). It wakes on every
// change of the active timers, never by polling.
func (c *Clock) BlockUntil(ctx context.Context, n int) error {
	active := 0
	err := waitUntil(ctx, &c.mu, func() (bool, <-chan struct{}) {
		active = len(c.timers)
		return active >= n, c.changed.wait()
	})
	if err != nil {
		return fmt.Errorf("webhooktest: waiting for %d active timers, %d active: %w",
			n, active, err)
	}
	return nil
}

// WaitTimers blocks until at least n timers are active, and fails the test
// if that takes longer than [WaitLimit] of real time. Call it from the
// goroutine running the test.
func (c *Clock) WaitTimers(tb TB, n int) {
	tb.Helper()
	ctx, cancel := limitContext()
	defer cancel()
	if err := c.BlockUntil(ctx, n); err != nil {
		tb.Fatalf("%v", err)
	}
}

// start sets t to fire d from now and fires it at once if it is due.
func (c *Clock) start(t *timer, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schedule(t, d)
}

// schedule makes t active with a deadline d from now, or moves it there if
// it is active, and fires it if it is due. The caller holds c.mu.
func (c *Clock) schedule(t *timer, d time.Duration) {
	t.when = c.now.Add(d)
	c.seq++
	t.seq = c.seq
	if t.index >= 0 {
		heap.Fix(&c.timers, t.index)
	} else {
		heap.Push(&c.timers, t)
	}
	if d <= 0 {
		c.advanceTo(c.now)
	}
	c.changed.signal()
}

// advanceTo fires the timers due by target in deadline order, then sets the
// time to target. The caller holds c.mu.
func (c *Clock) advanceTo(target time.Time) {
	for len(c.timers) > 0 && !c.timers[0].when.After(target) {
		t := heap.Pop(&c.timers).(*timer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		t.fire(c.now)
	}
	c.now = target
	c.changed.signal()
}

// timer is a Timer of a Clock. It is active while it sits in the clock's
// heap (index >= 0).
type timer struct {
	clock *Clock
	c     chan time.Time // nil for an AfterFunc timer
	f     func()         // nil for a channel timer
	when  time.Time
	seq   uint64
	index int
}

// C returns the timer's channel, nil for an AfterFunc timer.
func (t *timer) C() <-chan time.Time {
	if t.c == nil {
		return nil
	}
	return t.c
}

// Stop deactivates the timer and takes back a value sent but not yet
// received. It reports whether the timer was active, an unreceived value
// counting as active.
func (t *timer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	active := t.index >= 0
	if active {
		heap.Remove(&c.timers, t.index)
		c.changed.signal()
	}
	drained := t.drain()
	return active || drained
}

// Reset takes back a value sent but not yet received and sets the timer to
// fire d from now. It reports whether the timer was active, an unreceived
// value counting as active.
func (t *timer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	active := t.index >= 0
	drained := t.drain()
	c.schedule(t, d)
	return active || drained
}

// fire delivers the timer's event, sending now on its channel. The caller
// holds the clock's mutex and has taken the timer out of the heap. The send
// cannot block: a fired timer is inactive until Reset, which drains the
// channel first.
func (t *timer) fire(now time.Time) {
	if t.f != nil {
		go t.f()
		return
	}
	select {
	case t.c <- now:
	default:
	}
}

// drain takes a waiting value out of the channel and reports whether there
// was one.
func (t *timer) drain() bool {
	if t.c == nil {
		return false
	}
	select {
	case <-t.c:
		return true
	default:
		return false
	}
}

// timerHeap orders timers by deadline, then by the order they were set.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

var _ webhook.Clock = (*Clock)(nil)
