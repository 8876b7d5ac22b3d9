package webhooktest_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

const productionID = "550e8400-e29b-41d4-a716-446655440000"

func completed(t *testing.T) webhook.Event {
	t.Helper()
	e, err := webhook.Completed(productionID, "https://assets.example/v.mp4?a=1&b=<2>",
		time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC))
	require.NoError(t, err)
	return e
}

func TestNewDispatcherDeliversToReceiver(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t)
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{OnAttempt: out.Observe})
	id, err := d.Send(context.Background(), rcv.URL()+"/hook", completed(t))
	require.NoError(t, err)

	o := out.WaitFinal(t, id)
	require.Equal(t, webhook.StatusDelivered, o.Delivery.Status)
	require.Equal(t, 1, o.Attempt.Number)
	require.Equal(t, http.StatusOK, o.Attempt.StatusCode)
	require.Empty(t, o.Attempt.Error)

	req := rcv.WaitRequests(t, 1)[0]
	require.Equal(t, "/hook", req.Path)
	require.Equal(t, id, req.Header.Get("webhook-id"))
	require.Equal(t, "1", req.Header.Get("X-StrataKit-Delivery"))
	for _, name := range []string{"X-StrataKit-Production-Id", "X-StrataKit-Delivery",
		"webhook-id", "webhook-timestamp", "Content-Type", "User-Agent"} {
		got, ok := req.WireName(name)
		require.True(t, ok, name)
		require.Equal(t, name, got)
	}
	require.Contains(t, string(req.Body), `"output_url":"https://assets.example/v.mp4?a=1&b=<2>"`)

	stored, err := d.Delivery(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, stored.Status)
}

func TestNewDispatcherOverTLS(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t, webhooktest.WithTLS())
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Client: rcv.Client(), OnAttempt: out.Observe})
	id, err := d.Send(context.Background(), rcv.URL(), completed(t))
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, out.WaitFinal(t, id).Delivery.Status)
}

// TestScheduleUnderFakeClock runs the default schedule to its end: six
// attempts at 0, 1, 6, 36, 156 and 756 seconds, then failed.
func TestScheduleUnderFakeClock(t *testing.T) {
	t.Parallel()

	clock := webhooktest.NewClock(time.Time{})
	start := clock.Now()
	rcv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	rcv.Always(webhooktest.Status(http.StatusInternalServerError))
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock, OnAttempt: out.Observe})
	id, err := d.Send(context.Background(), rcv.URL(), completed(t))
	require.NoError(t, err)

	for n := 1; ; n++ {
		o := out.Wait(t, n)[n-1]
		require.Equal(t, n, o.Attempt.Number)
		if o.Delivery.Status != webhook.StatusPending {
			break
		}
		clock.Set(o.Delivery.NextAttemptAt)
	}

	want := []time.Duration{0, 1 * time.Second, 6 * time.Second, 36 * time.Second,
		156 * time.Second, 756 * time.Second}
	outcomes := out.All()
	require.Len(t, outcomes, len(want))
	requests := rcv.Requests()
	require.Len(t, requests, len(want))
	for i, at := range want {
		require.Equal(t, start.Add(at), outcomes[i].Attempt.StartedAt, "attempt %d", i+1)
		require.Equal(t, http.StatusInternalServerError, outcomes[i].Attempt.StatusCode)
		require.Equal(t, start.Add(at), requests[i].Time, "request %d", i+1)
		require.Equal(t, strconv.Itoa(i+1), requests[i].Header.Get("X-StrataKit-Delivery"))
		require.Equal(t, strconv.FormatInt(start.Add(at).Unix(), 10),
			requests[i].Header.Get("webhook-timestamp"))
		require.Equal(t, requests[0].Body, requests[i].Body)
	}
	last := outcomes[len(outcomes)-1].Delivery
	require.Equal(t, webhook.StatusFailed, last.Status)
	require.Equal(t, 6, last.Attempts)
	attempts, err := d.Attempts(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, attempts, 6)
}

// TestHangEndsAtAttemptTimeout shows a hanging endpoint cut by the attempt
// timeout on the fake clock, and the retry that follows.
func TestHangEndsAtAttemptTimeout(t *testing.T) {
	t.Parallel()

	clock := webhooktest.NewClock(time.Time{})
	start := clock.Now()
	rcv := webhooktest.NewReceiver(t)
	rcv.Script(webhooktest.Hang())
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock, OnAttempt: out.Observe})
	id, err := d.Send(context.Background(), rcv.URL(), completed(t))
	require.NoError(t, err)

	// The attempt's deadline is set before its request is sent.
	rcv.WaitRequests(t, 1)
	clock.Advance(webhook.DefaultAttemptTimeout)
	first := out.Wait(t, 1)[0]
	require.Zero(t, first.Attempt.StatusCode)
	require.Contains(t, first.Attempt.Error, "attempt timeout")
	require.Equal(t, webhook.StatusPending, first.Delivery.Status)
	require.Equal(t, start.Add(webhook.DefaultAttemptTimeout+time.Second),
		first.Delivery.NextAttemptAt)

	clock.Set(first.Delivery.NextAttemptAt)
	final := out.WaitFinal(t, id)
	require.Equal(t, webhook.StatusDelivered, final.Delivery.Status)
	require.Equal(t, 2, final.Attempt.Number)
}

func TestNewDispatcherKeepsGivenStore(t *testing.T) {
	t.Parallel()

	store := webhook.NewMemoryStore()
	rcv := webhooktest.NewReceiver(t)
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Store: store, OnAttempt: out.Observe,
		Allow: []string{"10.0.0.0/8"}})
	id, err := d.Send(context.Background(), rcv.URL(), completed(t))
	require.NoError(t, err)
	out.WaitFinal(t, id)
	got, err := store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusDelivered, got.Status)
}

// TestNewDispatcherLogsToTB checks that the Dispatcher's log goes to the
// test's log, and that the cleanup stops it.
func TestNewDispatcherLogsToTB(t *testing.T) {
	t.Parallel()

	tb := &fakeTB{}
	tb.run(func(tb webhooktest.TB) {
		rcv := webhooktest.NewReceiver(tb)
		var out webhooktest.Outcomes
		d := webhooktest.NewDispatcher(tb, webhook.Config{OnAttempt: out.Observe})
		id, err := d.Send(context.Background(), rcv.URL(), completed(t))
		require.NoError(t, err)
		out.WaitFinal(tb, id)
	})
	require.Empty(t, tb.fatals)
	require.Empty(t, tb.errors)
	logs := strings.Join(tb.logs, "\n")
	require.Contains(t, logs, `msg="webhook attempt succeeded"`)
	require.Contains(t, logs, `msg="webhook delivered"`)
	require.NotContains(t, logs, "time=")
}

func TestNewDispatcherBadConfig(t *testing.T) {
	t.Parallel()

	tb := &fakeTB{}
	tb.run(func(tb webhooktest.TB) {
		webhooktest.NewDispatcher(tb, webhook.Config{Workers: -1})
		t.Error("NewDispatcher returned with a bad config")
	})
	require.Len(t, tb.fatals, 1)
	require.Contains(t, tb.fatals[0], "Workers")
}

// BenchmarkSixAttemptSchedule measures the real time a unit test spends
// running the default schedule to failed under the fake clock, setup and
// teardown of the receiver and the Dispatcher included.
func BenchmarkSixAttemptSchedule(b *testing.B) {
	e, err := webhook.Failed(productionID, "unsupported codec", time.Time{})
	require.NoError(b, err)
	for b.Loop() {
		tb := new(webhooktest.Standalone)
		clock := webhooktest.NewClock(time.Time{})
		rcv := webhooktest.NewReceiver(tb)
		rcv.Always(webhooktest.Status(http.StatusInternalServerError))
		var out webhooktest.Outcomes
		d := webhooktest.NewDispatcher(tb, webhook.Config{Clock: clock, OnAttempt: out.Observe})
		if _, err := d.Send(context.Background(), rcv.URL(), e); err != nil {
			b.Fatal(err)
		}
		for n := 1; ; n++ {
			o := out.Wait(b, n)[n-1]
			if o.Delivery.Status != webhook.StatusPending {
				break
			}
			clock.Set(o.Delivery.NextAttemptAt)
		}
		tb.Close()
	}
}
