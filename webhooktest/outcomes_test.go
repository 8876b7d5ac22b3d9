package webhooktest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

func TestOutcomesWait(t *testing.T) {
	t.Parallel()

	var out webhooktest.Outcomes
	require.Empty(t, out.All())
	require.Empty(t, out.Wait(t, 0))

	const n = 20
	go func() {
		for i := 1; i <= n; i++ {
			status := webhook.StatusPending
			if i%5 == 0 {
				status = webhook.StatusFailed
			}
			out.Observe(webhook.Delivery{ID: "d" + string(rune('a'+i%5)), Status: status},
				webhook.Attempt{Number: i})
		}
	}()

	got := out.Wait(t, 3)
	require.Len(t, got, 3)
	for i, o := range got {
		require.Equal(t, i+1, o.Attempt.Number)
	}
	o := out.WaitFor(t, func(o webhooktest.Outcome) bool { return o.Attempt.Number == 12 })
	require.Equal(t, 12, o.Attempt.Number)
	final := out.WaitFinal(t, "da")
	require.Equal(t, 5, final.Attempt.Number)
	require.Len(t, out.Wait(t, n), n)
	require.Len(t, out.All(), n)
}

// TestOutcomesWaitFailsTheTest checks the safety net with a lowered limit.
// It does not run in parallel, as it changes the limit of every wait.
func TestOutcomesWaitFailsTheTest(t *testing.T) {
	defer webhooktest.SetWaitLimit(20 * time.Millisecond)()

	var out webhooktest.Outcomes
	out.Observe(webhook.Delivery{ID: "x", Status: webhook.StatusPending},
		webhook.Attempt{Number: 1})
	tb := &fakeTB{}
	tb.run(func(tb webhooktest.TB) {
		out.Wait(tb, 2)
		t.Error("Wait returned too early")
	})
	tb.run(func(tb webhooktest.TB) {
		out.WaitFinal(tb, "x")
		t.Error("WaitFinal returned for a pending delivery")
	})
	require.Len(t, tb.fatals, 2)
	require.Contains(t, tb.fatals[0], "for 2 outcomes, 1 observed")
	require.Contains(t, tb.fatals[1], "for a matching outcome, none of 1 matched")
}

func TestStandalone(t *testing.T) {
	t.Parallel()

	var s webhooktest.Standalone
	var order []int
	s.Cleanup(func() { order = append(order, 1) })
	s.Cleanup(func() { order = append(order, 2) })
	s.Helper()
	s.Logf("discarded %d", 1)
	s.Close()
	s.Close()
	require.Equal(t, []int{2, 1}, order)
	require.PanicsWithValue(t, "bad 1", func() { s.Fatalf("bad %d", 1) })
	require.PanicsWithValue(t, "bad 2", func() { s.Errorf("bad %d", 2) })
}
