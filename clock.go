package webhook

import "time"

// Clock is the source of time for a [Dispatcher]: due times, the 30 second
// attempt limit, lease extension and purges all run on it. Production code
// leaves [Config.Clock] nil for real time; tests pass the fake clock of
// package webhooktest and advance it instead of sleeping.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed, like [time.NewTimer].
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine once d has passed, like
	// [time.AfterFunc]. The timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a single event on a [Clock], with the semantics of [time.Timer]
// as of Go 1.23: Stop and Reset report whether the timer was active, and
// after either returns no stale value is received from C.
type Timer interface {
	// C returns the channel on which the time is delivered; nil for a timer
	// made by AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether the call
	// stopped the timer, false if it had already fired or been stopped.
	Stop() bool
	// Reset changes the timer to fire after d. It reports whether the timer
	// had been active.
	Reset(d time.Duration) bool
}

// realClock is the Clock used when Config.Clock is nil.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{t: time.NewTimer(d)} }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{t: time.AfterFunc(d, f)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// RealClock returns the Clock that reads and waits on real time.
func RealClock() Clock { return realClock{} }
