package webhooktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stratakit/webhook/webhooktest"
)

// The code under test waits on a timer in a goroutine of its own; the test
// waits until it does, then moves time forward instead of sleeping.
func ExampleClock() {
	clock := webhooktest.NewClock(time.Time{})
	fmt.Println("start:", clock.Now().Format(time.RFC3339))

	done := make(chan struct{})
	go func() { // the code under test
		defer close(done)
		timer := clock.NewTimer(30 * time.Second)
		at := <-timer.C()
		fmt.Println("fired:", at.Format(time.RFC3339))
	}()

	// In a test, clock.WaitTimers(t, 1) does this with a safety limit.
	if err := clock.BlockUntil(context.Background(), 1); err != nil {
		fmt.Println(err)
		return
	}
	clock.Advance(29 * time.Second)
	fmt.Println("active timers after 29s:", clock.ActiveTimers())
	clock.Advance(time.Second)
	<-done
	fmt.Println("active timers after 30s:", clock.ActiveTimers())

	// Output:
	// start: 2026-01-15T10:30:00Z
	// active timers after 29s: 1
	// fired: 2026-01-15T10:30:30Z
	// active timers after 30s: 0
}

// Stop and Reset report whether the timer was active, and leave no stale
// value in its channel, as Go's own timers do since Go 1.23.
func ExampleClock_stopAndReset() {
	clock := webhooktest.NewClock(time.Time{})
	timer := clock.NewTimer(time.Second)
	clock.Advance(time.Second) // fires; the value waits in the channel

	fmt.Println("reset of a fired, unreceived timer:", timer.Reset(time.Minute))
	select {
	case <-timer.C():
		fmt.Println("stale value")
	default:
		fmt.Println("no stale value")
	}
	fmt.Println("stop:", timer.Stop())
	fmt.Println("stop again:", timer.Stop())

	// Output:
	// reset of a fired, unreceived timer: true
	// no stale value
	// stop: true
	// stop again: false
}
