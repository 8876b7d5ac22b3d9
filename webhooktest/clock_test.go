package webhooktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

// timerOp is one step applied to a timer; it returns what the step
// reports: Stop's and Reset's result, or whether a value was received.
type timerOp struct {
	name string
	do   func(t webhook.Timer) bool
}

var (
	opStop      = timerOp{"Stop", func(t webhook.Timer) bool { return t.Stop() }}
	opResetZero = timerOp{"Reset(0)", func(t webhook.Timer) bool { return t.Reset(0) }}
	opResetHour = timerOp{"Reset(1h)", func(t webhook.Timer) bool { return t.Reset(time.Hour) }}
	// opRecv receives without blocking. On a Go timer that is due it is
	// deterministic: since Go 1.23 a receive runs a due timer first.
	opRecv = timerOp{"recv", func(t webhook.Timer) bool {
		select {
		case <-t.C():
			return true
		default:
			return false
		}
	}}
)

// TestTimerMatchesTimeTimer applies the same steps to a real time.Timer
// and to a fake one and requires the same reports. Only durations of zero
// or below (due at once) and one hour (never due during the test) are used,
// so neither timer depends on real time passing.
func TestTimerMatchesTimeTimer(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		d     time.Duration
		steps []timerOp
		want  []bool
	}{
		{name: "stop an active timer twice", d: time.Hour,
			steps: []timerOp{opStop, opStop, opRecv}, want: []bool{true, false, false}},
		{name: "stop a fired timer whose value was not received", d: 0,
			steps: []timerOp{opStop, opRecv, opStop}, want: []bool{true, false, false}},
		{name: "stop after the value was received", d: 0,
			steps: []timerOp{opRecv, opStop, opRecv}, want: []bool{true, false, false}},
		{name: "negative duration fires at once", d: -time.Second,
			steps: []timerOp{opRecv, opRecv}, want: []bool{true, false}},
		{name: "reset an active timer", d: time.Hour,
			steps: []timerOp{opResetHour, opStop, opStop}, want: []bool{true, true, false}},
		{name: "reset after stop", d: time.Hour,
			steps: []timerOp{opStop, opResetHour, opStop}, want: []bool{true, false, true}},
		{name: "reset drops the stale value", d: 0,
			steps: []timerOp{opResetHour, opRecv, opStop}, want: []bool{true, false, true}},
		{name: "reset to zero fires again", d: time.Hour,
			steps: []timerOp{opResetZero, opRecv, opRecv, opResetZero, opResetZero, opRecv},
			want:  []bool{true, true, false, false, true, true}},
		{name: "reset after receive reports inactive", d: 0,
			steps: []timerOp{opRecv, opResetHour, opStop}, want: []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			real := webhook.RealClock().NewTimer(tt.d)
			defer real.Stop()
			fake := webhooktest.NewClock(time.Time{}).NewTimer(tt.d)
			var gotReal, gotFake []bool
			for _, op := range tt.steps {
				gotReal = append(gotReal, op.do(real))
				gotFake = append(gotFake, op.do(fake))
			}
			require.Equal(t, tt.want, gotReal, "time.Timer")
			require.Equal(t, tt.want, gotFake, "webhooktest timer")
		})
	}
}

// TestAfterFuncMatchesTimeAfterFunc compares Stop and Reset on timers that
// never fire during the test.
func TestAfterFuncMatchesTimeAfterFunc(t *testing.T) {
	t.Parallel()

	steps := []timerOp{opStop, opStop, opResetHour, opResetHour, opStop, opRecv}
	want := []bool{true, false, false, true, true, false}
	real := webhook.RealClock().AfterFunc(time.Hour, func() { t.Error("real timer fired") })
	fakeClock := webhooktest.NewClock(time.Time{})
	fake := fakeClock.AfterFunc(time.Hour, func() { t.Error("fake timer fired") })
	var gotReal, gotFake []bool
	for _, op := range steps {
		gotReal = append(gotReal, op.do(real))
		gotFake = append(gotFake, op.do(fake))
	}
	require.Equal(t, want, gotReal)
	require.Equal(t, want, gotFake)
	require.Nil(t, fake.C())
	fakeClock.Advance(2 * time.Hour)
}

func TestClockStart(t *testing.T) {
	t.Parallel()

	require.Equal(t, time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC),
		webhooktest.NewClock(time.Time{}).Now())
	start := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	require.Equal(t, start, webhooktest.NewClock(start).Now())

	// The monotonic reading is dropped, so times compare with ==.
	now := time.Now()
	require.True(t, webhooktest.NewClock(now).Now() == now.Round(0))
}

// TestAdvanceFiresInDeadlineOrder relies on each channel receiving the
// clock's time when its timer fires: a timer fired out of order would
// receive a later time than its deadline.
func TestAdvanceFiresInDeadlineOrder(t *testing.T) {
	t.Parallel()

	c := webhooktest.NewClock(time.Time{})
	start := c.Now()
	delays := []time.Duration{3 * time.Second, time.Second, 4 * time.Second, 2 * time.Second,
		time.Second, 10 * time.Second}
	timers := make([]webhook.Timer, len(delays))
	for i, d := range delays {
		timers[i] = c.NewTimer(d)
	}
	require.Equal(t, len(delays), c.ActiveTimers())
	next, ok := c.Next()
	require.True(t, ok)
	require.Equal(t, start.Add(time.Second), next)

	c.Advance(4 * time.Second)
	require.Equal(t, start.Add(4*time.Second), c.Now())
	for i, d := range delays {
		if d > 4*time.Second {
			require.False(t, opRecv.do(timers[i]), "timer %d (%v) fired early", i, d)
			continue
		}
		select {
		case got := <-timers[i].C():
			require.Equal(t, start.Add(d), got, "timer %d (%v)", i, d)
		default:
			t.Fatalf("timer %d (%v) did not fire", i, d)
		}
	}
	require.Equal(t, 1, c.ActiveTimers())

	c.Advance(6 * time.Second)
	require.Equal(t, start.Add(10*time.Second), <-timers[5].C())
	require.Zero(t, c.ActiveTimers())
	_, ok = c.Next()
	require.False(t, ok)
}

func TestAdvanceAndSetNeverGoBack(t *testing.T) {
	t.Parallel()

	c := webhooktest.NewClock(time.Time{})
	start := c.Now()
	timer := c.NewTimer(time.Second)

	c.Advance(0)
	c.Advance(-time.Hour)
	c.Set(start.Add(-time.Hour))
	c.Set(start)
	require.Equal(t, start, c.Now())
	require.Equal(t, 1, c.ActiveTimers())

	c.Set(start.Add(90 * time.Minute))
	require.Equal(t, start.Add(90*time.Minute), c.Now())
	require.Equal(t, start.Add(time.Second), <-timer.C())
}

func TestAfterFuncRunsInItsOwnGoroutine(t *testing.T) {
	t.Parallel()

	c := webhooktest.NewClock(time.Time{})
	release := make(chan struct{})
	ran := make(chan time.Time, 2)
	f := func() {
		ran <- c.Now()
		<-release // Advance must not wait for f
	}
	timer := c.AfterFunc(time.Minute, f)
	c.Advance(time.Minute)
	c.Advance(time.Minute)
	require.Equal(t, c.Now(), <-ran)
	require.False(t, timer.Stop())

	// A zero duration runs f at once; Reset runs it again.
	zero := c.AfterFunc(0, f)
	<-ran
	require.False(t, zero.Reset(time.Second))
	c.Advance(time.Second)
	<-ran
	close(release)

	// A nil function is accepted and does nothing.
	c.AfterFunc(0, nil)
}

func TestBlockUntil(t *testing.T) {
	t.Parallel()

	c := webhooktest.NewClock(time.Time{})
	require.NoError(t, c.BlockUntil(context.Background(), 0))

	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(context.Background(), 2) }()
	first := c.NewTimer(time.Second)
	select {
	case err := <-done:
		t.Fatalf("BlockUntil(2) returned %v with one timer active", err)
	default:
	}
	c.AfterFunc(time.Hour, func() {})
	require.NoError(t, <-done)

	// Stopped and fired timers do not count.
	require.True(t, first.Stop())
	c.Advance(time.Hour)
	require.Zero(t, c.ActiveTimers())
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- c.BlockUntil(ctx, 1) }()
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "waiting for 1 active timers, 0 active")

	// WaitTimers returns once a goroutine of the code under test waits.
	go func() {
		timer := c.NewTimer(time.Second)
		<-timer.C()
		done <- nil
	}()
	c.WaitTimers(t, 1)
	c.Advance(time.Second)
	require.NoError(t, <-done)
}

// TestWaitTimersFailsTheTest checks the safety net with a lowered limit. It
// does not run in parallel, as it changes the limit of every wait.
func TestWaitTimersFailsTheTest(t *testing.T) {
	defer webhooktest.SetWaitLimit(20 * time.Millisecond)()

	c := webhooktest.NewClock(time.Time{})
	tb := &fakeTB{}
	tb.run(func(tb webhooktest.TB) {
		c.WaitTimers(tb, 1)
		t.Error("WaitTimers returned without timers")
	})
	require.Len(t, tb.fatals, 1)
	require.Contains(t, tb.fatals[0], "waiting for 1 active timers, 0 active")
	require.Contains(t, tb.fatals[0], context.DeadlineExceeded.Error())
}

// TestClockConcurrentUse is for the race detector: timers set, reset and
// stopped from many goroutines while the clock advances.
func TestClockConcurrentUse(t *testing.T) {
	t.Parallel()

	c := webhooktest.NewClock(time.Time{})
	done := make(chan struct{})
	const workers = 8
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				timer := c.NewTimer(time.Duration(i%5) * time.Millisecond)
				timer.Reset(time.Duration(i%3) * time.Millisecond)
				_ = c.Now()
				timer.Stop()
				c.AfterFunc(0, func() {}).Stop()
			}
		}()
	}
	for i := 0; i < 500; i++ {
		c.Advance(time.Millisecond)
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	require.Zero(t, c.ActiveTimers())
}
