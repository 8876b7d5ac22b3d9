package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

// waitLimit bounds how long a test waits for a signal in real time before
// it fails; nothing waits for it to pass.
const waitLimit = 10 * time.Second

// fixture is a Dispatcher on a fake clock and a memory store, sending to a
// recording receiver on loopback.
type fixture struct {
	clock    *webhooktest.Clock
	recv     *webhooktest.Receiver
	store    *webhook.MemoryStore
	cfg      webhook.Config
	d        *webhook.Dispatcher
	outcomes chan observed
	logs     *logBuffer
}

type observed struct {
	delivery webhook.Delivery
	attempt  webhook.Attempt
}

func setup(t *testing.T, configure ...func(*webhook.Config)) *fixture {
	t.Helper()
	f := &fixture{
		clock:    webhooktest.NewClock(time.Time{}),
		store:    webhook.NewMemoryStore(),
		outcomes: make(chan observed, 100),
		logs:     &logBuffer{},
	}
	f.recv = webhooktest.NewReceiver(t, webhooktest.WithClock(f.clock))
	f.cfg = webhook.Config{
		Store:     f.store,
		Clock:     f.clock,
		Logger:    slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AllowHTTP: true,
		Allow:     []string{"127.0.0.0/8", "::1"},
		OnAttempt: func(d webhook.Delivery, a webhook.Attempt) {
			f.outcomes <- observed{d, a}
		},
	}
	for _, c := range configure {
		c(&f.cfg)
	}
	f.d = f.newDispatcher(t)
	return f
}

// newDispatcher starts a Dispatcher on the fixture's config and stops it
// hard when the test ends.
func (f *fixture) newDispatcher(t *testing.T) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.New(f.cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		require.NoError(t, d.StopAndCancel(ctx))
	})
	return d
}

// next waits for the next recorded outcome.
func (f *fixture) next(t *testing.T) observed {
	t.Helper()
	select {
	case o := <-f.outcomes:
		return o
	case <-time.After(waitLimit):
		t.Fatalf("no outcome recorded within %v", waitLimit)
		return observed{}
	}
}

// noOutcome checks that no outcome is waiting to be read.
func (f *fixture) noOutcome(t *testing.T) {
	t.Helper()
	select {
	case o := <-f.outcomes:
		t.Fatalf("unexpected outcome: attempt %d of %s", o.attempt.Number, o.delivery.ID)
	default:
	}
}

// advanceTo moves the fake clock to at.
func (f *fixture) advanceTo(at time.Time) {
	f.clock.Advance(at.Sub(f.clock.Now()))
}

func (f *fixture) send(t *testing.T, e webhook.Event, opts ...webhook.SendOption) string {
	t.Helper()
	id, err := f.d.Send(context.Background(), f.recv.URL()+"/hooks/stratakit", e, opts...)
	require.NoError(t, err)
	return id
}

func completed(t *testing.T, id string) webhook.Event {
	t.Helper()
	e, err := webhook.Completed(id, "https://assets.stratakit.io/v/"+id+".mp4?sig=a&b=<c>",
		time.Date(2026, 1, 15, 10, 29, 58, 0, time.UTC))
	require.NoError(t, err)
	return e
}

type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written != nil {
		close(l.written)
		l.written = nil
	}
	return l.buf.Write(p)
}

// waitFor waits until a line with the given message has been logged and
// returns it.
func (l *logBuffer) waitFor(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		// Take the lines and the channel of the next write at once, so that
		// no write falls between them.
		l.mu.Lock()
		text := l.buf.String()
		if l.written == nil {
			l.written = make(chan struct{})
		}
		written := l.written
		l.mu.Unlock()
		for _, line := range parseLines(t, text) {
			if line["msg"] == msg {
				return line
			}
		}
		select {
		case <-written:
		case <-deadline:
			t.Fatalf("no %q logged within %v", msg, waitLimit)
		}
	}
}

func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	return parseLines(t, l.buf.String())
}

func parseLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func TestHeadersAndBodyOnEveryAttempt(t *testing.T) {
	f := setup(t)
	f.recv.FailTimes(1)
	e := completed(t, productionID)
	id := f.send(t, e)

	first := f.next(t)
	require.Equal(t, webhook.StatusPending, first.delivery.Status)
	f.advanceTo(first.delivery.NextAttemptAt)
	second := f.next(t)
	require.Equal(t, webhook.StatusDelivered, second.delivery.Status)

	reqs := f.recv.WaitRequests(t, 2)
	body, err := e.Payload()
	require.NoError(t, err)
	start := webhooktest.NewClock(time.Time{}).Now()
	for i, r := range reqs {
		n := i + 1
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/hooks/stratakit", r.Path)
		require.Equal(t, string(body), string(r.Body), "byte-identical body on attempt %d", n)
		want := map[string]string{
			"Content-Type":              "application/json",
			"User-Agent":                "StrataKit-Webhook/1.0",
			"X-StrataKit-Production-Id": productionID,
			"X-StrataKit-Delivery":      strconv.Itoa(n),
			"webhook-id":                id,
			"webhook-timestamp":         strconv.FormatInt(r.Time.Unix(), 10),
		}
		for name, value := range want {
			wire, ok := r.WireName(name)
			require.True(t, ok, "attempt %d lacks %s", n, name)
			require.Equal(t, name, wire, "spelling on the wire")
			require.Equal(t, []string{value}, r.Header.Values(name), "%s on attempt %d", name, n)
		}
		_, signed := r.WireName("webhook-signature")
		require.False(t, signed, "no secret, no signature")
	}
	require.Equal(t, start.Unix(), reqs[0].Time.Unix())
	require.Equal(t, start.Add(time.Second).Unix(), reqs[1].Time.Unix())
	require.True(t, strings.HasPrefix(id, "msg_"))
}

func TestZeroTimestampIsTheClockAtSend(t *testing.T) {
	f := setup(t)
	f.clock.Advance(90 * time.Minute)
	e, err := webhook.Failed("p-9", "boom", time.Time{})
	require.NoError(t, err)
	f.send(t, e)
	f.next(t)
	r := f.recv.WaitRequests(t, 1)[0]
	require.Contains(t, string(r.Body), `"timestamp":"2026-01-15T12:00:00Z"`)
}

func TestScheduleUnderTheFakeClock(t *testing.T) {
	f := setup(t)
	f.recv.Always(webhooktest.Status(http.StatusInternalServerError))
	start := f.clock.Now()
	id := f.send(t, completed(t, "p-1"))

	for n := 1; n <= 6; n++ {
		o := f.next(t)
		require.Equal(t, n, o.attempt.Number)
		require.Equal(t, http.StatusInternalServerError, o.attempt.StatusCode)
		if n < 6 {
			require.Equal(t, webhook.StatusPending, o.delivery.Status)
			f.advanceTo(o.delivery.NextAttemptAt)
			continue
		}
		require.Equal(t, webhook.StatusFailed, o.delivery.Status)
		var de *webhook.DeliveryError
		require.ErrorAs(t, o.delivery.Err(), &de)
		require.Equal(t, 6, de.Attempts)
		require.Equal(t, webhook.ReasonExhausted, de.Reason)
		require.Equal(t, "webhook: status 500", de.LastError)
	}

	var at []time.Duration
	for _, r := range f.recv.WaitRequests(t, 6) {
		at = append(at, r.Time.Sub(start))
	}
	require.Equal(t, []time.Duration{0, time.Second, 6 * time.Second, 36 * time.Second,
		156 * time.Second, 756 * time.Second}, at)

	// Failed for good: a day later nothing more is sent.
	f.clock.Advance(24 * time.Hour)
	d, err := f.d.Delivery(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusFailed, d.Status)
	require.Len(t, f.recv.Requests(), 6)
	log, err := f.d.Attempts(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, log, 6)
	for i, a := range log {
		require.Equal(t, i+1, a.Number)
		require.Equal(t, "webhook: status 500", a.Error)
	}
}

func TestSuccessOnAttemptKStops(t *testing.T) {
	for k := 1; k <= 6; k++ {
		t.Run(strconv.Itoa(k), func(t *testing.T) {
			f := setup(t)
			f.recv.FailTimes(k - 1)
			id := f.send(t, completed(t, "p-k"))
			for n := 1; n < k; n++ {
				o := f.next(t)
				f.advanceTo(o.delivery.NextAttemptAt)
			}
			o := f.next(t)
			require.Equal(t, k, o.attempt.Number)
			require.Equal(t, webhook.StatusDelivered, o.delivery.Status)

			f.clock.Advance(time.Hour)
			require.Len(t, f.recv.Requests(), k)
			f.noOutcome(t)
			d, err := f.d.Delivery(context.Background(), id)
			require.NoError(t, err)
			require.Equal(t, webhook.StatusDelivered, d.Status)
			require.Equal(t, k, d.Attempts)
			require.NoError(t, d.Err())
		})
	}
}

func TestFailureClasses(t *testing.T) {
	tests := map[string]struct {
		reply     webhooktest.Response
		status    int
		wantError string
	}{
		"server error":   {webhooktest.Status(500), 500, "webhook: status 500"},
		"client error":   {webhooktest.Text(404, "no such hook"), 404, "webhook: status 404"},
		"redirect":       {webhooktest.Redirect(302, "https://example.com/"), 302, "redirect not followed"},
		"not modified":   {webhooktest.Status(304), 304, "redirect not followed"},
		"informational?": {webhooktest.Status(202), 202, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := setup(t)
			f.recv.Always(tc.reply)
			f.send(t, completed(t, "p-2"))
			o := f.next(t)
			require.Equal(t, tc.status, o.attempt.StatusCode)
			if tc.wantError == "" {
				require.Empty(t, o.attempt.Error)
				require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
				return
			}
			require.Contains(t, o.attempt.Error, tc.wantError)
			require.Equal(t, webhook.StatusPending, o.delivery.Status)
			require.Equal(t, f.clock.Now().Add(time.Second), o.delivery.NextAttemptAt)
			require.Len(t, f.recv.Requests(), 1, "a redirect is never followed")
		})
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	f := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	_, err = f.d.Send(context.Background(), "http://"+addr+"/hook?token=s3cret", completed(t, "p-3"))
	require.NoError(t, err)
	o := f.next(t)
	require.Zero(t, o.attempt.StatusCode)
	require.Contains(t, o.attempt.Error, "connection refused")
	require.NotContains(t, o.attempt.Error, "s3cret", "query strings are redacted")
	require.Equal(t, webhook.StatusPending, o.delivery.Status)
	for _, line := range f.logs.lines(t) {
		require.NotContains(t, line["url"], "s3cret")
	}
}

func TestNoStatusLineWithinTheAttemptTimeout(t *testing.T) {
	f := setup(t)
	f.recv.Script(webhooktest.Hang())
	f.send(t, completed(t, "p-4"))
	f.recv.WaitRequests(t, 1)

	// The deadline runs on the fake clock: no real 30 s pass.
	f.clock.Advance(webhook.DefaultAttemptTimeout - time.Millisecond)
	f.noOutcome(t)
	f.clock.Advance(time.Millisecond)
	o := f.next(t)
	require.Contains(t, o.attempt.Error, "no reply within the attempt timeout (30s)")
	require.Equal(t, webhook.DefaultAttemptTimeout, o.attempt.Duration)
	require.Equal(t, webhook.StatusPending, o.delivery.Status)

	f.advanceTo(o.delivery.NextAttemptAt)
	o = f.next(t)
	require.Equal(t, 2, o.attempt.Number)
	require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
}

func TestRetryAfterLengthensTheWait(t *testing.T) {
	f := setup(t, func(c *webhook.Config) { c.RetryAfterLimit = 5 * time.Minute })
	f.recv.Script(webhooktest.RetryAfter(503, "120"), webhooktest.RetryAfter(429, "86400"))
	f.send(t, completed(t, "p-5"))

	o := f.next(t)
	require.Equal(t, f.clock.Now().Add(120*time.Second), o.delivery.NextAttemptAt)
	f.clock.Advance(119 * time.Second)
	f.noOutcome(t)
	f.clock.Advance(time.Second)
	o = f.next(t)
	require.Equal(t, 2, o.attempt.Number)
	require.Equal(t, f.clock.Now().Add(5*time.Minute), o.delivery.NextAttemptAt, "capped")
}

func TestBodyIsReadForTheLogOnly(t *testing.T) {
	t.Run("huge", func(t *testing.T) {
		f := setup(t)
		f.recv.Always(webhooktest.HugeBody(50 << 20))
		f.send(t, completed(t, "p-6"))
		o := f.next(t)
		require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
		require.Len(t, o.attempt.ResponseBody, webhook.MaxResponseSnippet)
	})
	t.Run("endless", func(t *testing.T) {
		f := setup(t)
		f.recv.Always(webhooktest.EndlessBody())
		f.send(t, completed(t, "p-7"))
		o := f.next(t)
		require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
		require.Len(t, o.attempt.ResponseBody, webhook.MaxResponseSnippet)
	})
	t.Run("slow", func(t *testing.T) {
		f := setup(t)
		f.recv.Always(webhooktest.SlowBody())
		f.send(t, completed(t, "p-8"))
		f.recv.WaitRequests(t, 1)
		// The loop's timer, the attempt's deadline, its lease extension and
		// the body's deadline: the worker is reading the body.
		f.clock.WaitTimers(t, 4)
		f.clock.Advance(webhook.DefaultBodyTimeout)
		o := f.next(t)
		require.Equal(t, webhook.StatusDelivered, o.delivery.Status, "a slow body never fails a 2xx")
		require.Equal(t, `{"partial":`, string(o.attempt.ResponseBody))
		require.Equal(t, webhook.DefaultBodyTimeout, o.attempt.Duration)
	})
}

func TestPendingDueTimeFiresOnceWhenPastAtStart(t *testing.T) {
	f := setup(t)
	f.recv.FailTimes(1)
	f.send(t, completed(t, "p-10"))
	o := f.next(t)
	require.Equal(t, webhook.StatusPending, o.delivery.Status)

	require.NoError(t, f.d.Stop(context.Background()))
	d, err := f.d.Delivery(context.Background(), o.delivery.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, d.Status, "a stop keeps pending deliveries")
	require.Equal(t, o.delivery.NextAttemptAt, d.NextAttemptAt)

	// Down for an hour: the retry fell due meanwhile and runs once, at once.
	f.clock.Advance(time.Hour)
	f.newDispatcher(t)
	o = f.next(t)
	require.Equal(t, 2, o.attempt.Number)
	require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
	f.clock.Advance(time.Hour)
	require.Len(t, f.recv.Requests(), 2)
	f.noOutcome(t)
}

func TestGracefulStopLetsAttemptsInFlightFinish(t *testing.T) {
	f := setup(t)
	f.recv.Script(webhooktest.Hang())
	f.send(t, completed(t, "p-11"))
	f.recv.WaitRequests(t, 1)

	stopped := make(chan error, 1)
	go func() { stopped <- f.d.Stop(context.Background()) }()
	select {
	case <-f.d.Stopped():
		t.Fatal("stopped with an attempt in flight")
	default:
	}

	// A graceful stop whose own context ends returns, the attempt goes on.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, f.d.Stop(ctx), context.Canceled)

	f.clock.Advance(webhook.DefaultAttemptTimeout)
	o := f.next(t)
	require.Contains(t, o.attempt.Error, "no reply within")
	require.NoError(t, <-stopped)
	<-f.d.Stopped()
	require.NoError(t, f.d.Stop(context.Background()), "stop twice")
	require.ErrorIs(t, f.d.Start(), webhook.ErrStopped)
}

func TestHardStopCancelsAttemptsInFlight(t *testing.T) {
	f := setup(t)
	f.recv.Script(webhooktest.Hang())
	id := f.send(t, completed(t, "p-12"))
	f.recv.WaitRequests(t, 1)

	require.NoError(t, f.d.StopAndCancel(context.Background()))
	o := f.next(t)
	require.Contains(t, o.attempt.Error, "attempt cancelled: dispatcher stopped")
	d, err := f.store.Get(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, webhook.StatusPending, d.Status)
	require.Equal(t, 1, d.Attempts)
	require.True(t, d.LeaseUntil.IsZero())
}

func TestStopBeforeStart(t *testing.T) {
	d, err := webhook.New(webhook.Config{Store: webhook.NewMemoryStore()})
	require.NoError(t, err)
	require.NoError(t, d.Stop(context.Background()))
	require.NoError(t, d.StopAndCancel(context.Background()))
	require.ErrorIs(t, d.Start(), webhook.ErrStopped)
	e, err := webhook.Failed("p", "boom", time.Time{})
	require.NoError(t, err)
	id, err := d.Send(context.Background(), "https://example.com/h", e)
	require.ErrorIs(t, err, webhook.ErrStopped, "nothing is stored after a stop")
	require.Empty(t, id)
}

func TestIdempotencyKeyReusedForAnotherWebhook(t *testing.T) {
	f := setup(t)
	first := f.send(t, completed(t, "p-20"), webhook.WithIdempotencyKey("job-9"))
	failed, err := webhook.Failed("p-20", "re-render failed", time.Time{})
	require.NoError(t, err)
	id, err := f.d.Send(context.Background(), f.recv.URL()+"/hooks/stratakit", failed,
		webhook.WithIdempotencyKey("job-9"))
	require.ErrorIs(t, err, webhook.ErrIdempotencyConflict)
	require.Equal(t, first, id)
	require.Contains(t, err.Error(), "production.completed for production p-20")
}

func TestIdempotencyKey(t *testing.T) {
	f := setup(t)
	first := f.send(t, completed(t, "p-13"), webhook.WithIdempotencyKey("render-job-77"))
	second := f.send(t, completed(t, "p-13"), webhook.WithIdempotencyKey("render-job-77"))
	require.Equal(t, first, second)
	f.next(t)
	f.clock.Advance(time.Hour)
	require.Len(t, f.recv.Requests(), 1)
	all, err := f.store.List(context.Background(), webhook.Filter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
}

func TestBadInputStoresNothing(t *testing.T) {
	f := setup(t, func(c *webhook.Config) { c.AllowHTTP = false })
	good := completed(t, "p-14")
	tests := map[string]struct {
		url   string
		event webhook.Event
		want  error
	}{
		"bad event":   {"https://example.com/h", webhook.Event{Type: webhook.ProductionFailed}, webhook.ErrInvalidEvent},
		"plain http":  {"http://example.com/h", good, webhook.ErrInvalidURL},
		"not a url":   {"::not a url", good, webhook.ErrInvalidURL},
		"ftp":         {"ftp://example.com/h", good, webhook.ErrInvalidURL},
		"credentials": {"https://user:pw@example.com/h", good, webhook.ErrInvalidURL},
		"private":     {"https://10.1.2.3/h", good, webhook.ErrInvalidURL},
		"control key": {"https://example.com/h", good, webhook.ErrInvalidEvent},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var opts []webhook.SendOption
			if name == "control key" {
				opts = append(opts, webhook.WithIdempotencyKey("a\nb"))
			}
			id, err := f.d.Send(context.Background(), tc.url, tc.event, opts...)
			require.ErrorIs(t, err, tc.want)
			require.Empty(t, id)
		})
	}
	all, err := f.store.List(context.Background(), webhook.Filter{})
	require.NoError(t, err)
	require.Empty(t, all)
}

func TestSlowHostTakesOnlyItsShare(t *testing.T) {
	f := setup(t, func(c *webhook.Config) {
		c.Workers = 4
		c.PerHostLimit = 2
	})
	f.recv.Always(webhooktest.Hang())
	healthy := webhooktest.NewReceiver(t, webhooktest.WithClock(f.clock))

	for i := range 5 {
		f.send(t, completed(t, "slow-"+strconv.Itoa(i)))
	}
	f.recv.WaitRequests(t, 2)
	for i := range 6 {
		_, err := f.d.Send(context.Background(), healthy.URL()+"/h", completed(t, "ok-"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	for range 6 {
		o := f.next(t)
		require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
	}
	require.Len(t, healthy.Requests(), 6)
	require.Len(t, f.recv.Requests(), 2, "the hanging host holds at most its share")
}

func TestCallersClientIsCopiedNotChanged(t *testing.T) {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	redirects := 0
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		redirects++
		return nil
	}}
	f := setup(t, func(c *webhook.Config) { c.Client = client })
	f.recv.Always(webhooktest.Redirect(307, f.recv.URL()+"/elsewhere"))
	f.send(t, completed(t, "p-15"))
	o := f.next(t)
	require.Contains(t, o.attempt.Error, "redirect not followed")
	require.Same(t, jar, client.Jar)
	require.NotNil(t, client.CheckRedirect)
	require.Zero(t, redirects)
	require.Len(t, f.recv.Requests(), 1)
}

func TestLogLinesHaveFixedKeys(t *testing.T) {
	f := setup(t)
	f.recv.FailTimes(1)
	f.send(t, completed(t, "p-16"))
	o := f.next(t)
	f.advanceTo(o.delivery.NextAttemptAt)
	f.next(t)

	var attempts, finals int
	for _, line := range f.logs.lines(t) {
		switch line["msg"] {
		case "webhook attempt failed", "webhook attempt succeeded":
			attempts++
			for _, k := range []string{"delivery_id", "production_id", "event", "url",
				"attempt", "status_code", "duration_ms"} {
				require.Contains(t, line, k)
			}
		case "webhook delivered", "webhook failed":
			finals++
			for _, k := range []string{"delivery_id", "production_id", "event", "state",
				"attempts"} {
				require.Contains(t, line, k)
			}
		}
	}
	require.Equal(t, 2, attempts)
	require.Equal(t, 1, finals)
}

func TestFinishedDeliveriesArePurgedAfterRetention(t *testing.T) {
	f := setup(t, func(c *webhook.Config) { c.Retention = time.Hour })
	f.recv.Script(webhooktest.Status(500))
	done := f.send(t, completed(t, "p-17"))
	o := f.next(t)
	require.Equal(t, webhook.StatusPending, o.delivery.Status)
	f.advanceTo(o.delivery.NextAttemptAt)
	require.Equal(t, webhook.StatusDelivered, f.next(t).delivery.Status)

	f.recv.Always(webhooktest.Status(500))
	pending := f.send(t, completed(t, "p-18"))
	f.next(t)

	// The purge runs every tenth of the retention window (at least a
	// minute): by 1 h 6 min after delivery the finished one is gone, the
	// pending one stays whatever its age.
	ctx := context.Background()
	f.clock.Advance(time.Hour - time.Second)
	_, err := f.store.Get(ctx, done)
	require.NoError(t, err)
	for range 8 {
		f.clock.Advance(time.Minute)
	}
	line := f.logs.waitFor(t, "webhook purge")
	require.EqualValues(t, 1, line["purged"])
	_, err = f.store.Get(ctx, done)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = f.store.Get(ctx, pending)
	require.NoError(t, err)
}

// claimFails is a MemoryStore whose Claim fails while reads work, as a
// database whose writes fail (a full disk, a lost write connection). It
// signals every Claim and NextDue.
type claimFails struct {
	*webhook.MemoryStore
	claimed, nextDue chan struct{}
}

func (s *claimFails) Claim(context.Context, time.Time, webhook.ClaimRequest) ([]webhook.Claim, error) {
	s.claimed <- struct{}{}
	return nil, errors.New("disk I/O error")
}

func (s *claimFails) NextDue(ctx context.Context, skip []string) (time.Time, bool, error) {
	defer func() { s.nextDue <- struct{}{} }()
	return s.MemoryStore.NextDue(ctx, skip)
}

func TestFailingClaimWaitsAPollInterval(t *testing.T) {
	store := &claimFails{MemoryStore: webhook.NewMemoryStore(),
		claimed: make(chan struct{}, 1000), nextDue: make(chan struct{}, 1000)}

	// A delivery is due when the Dispatcher starts.
	prefill, err := webhook.New(webhook.Config{Store: store, AllowHTTP: true,
		Allow: []string{"127.0.0.1"}, Clock: webhooktest.NewClock(time.Time{})})
	require.NoError(t, err)
	_, err = prefill.Send(context.Background(), "http://127.0.0.1:1/h", completed(t, "p-19"))
	require.NoError(t, err)
	f := setup(t, func(c *webhook.Config) { c.Store = store })

	// The loop asks, fails, and sleeps a poll interval: not at once again,
	// although the delivery is due.
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(waitLimit):
			t.Fatalf("no %s within %v", what, waitLimit)
		}
	}
	wait(store.claimed, "claim")
	wait(store.nextDue, "next due")
	f.clock.Advance(webhook.DefaultPollInterval - time.Millisecond)
	select {
	case <-store.claimed:
		t.Fatal("a failed claim was retried before the poll interval")
	default:
	}
	f.clock.Advance(time.Millisecond)
	wait(store.claimed, "claim after the poll interval")
	wait(store.nextDue, "next due")

	// Stopped now, the loop made no claim but those two.
	require.NoError(t, f.d.Stop(context.Background()))
	require.Empty(t, store.claimed, "the loop claimed again at once")
}

func TestBacklogForOneHostDoesNotHoldBackAnother(t *testing.T) {
	f := setup(t)
	f.recv.Always(webhooktest.Hang())
	healthy := webhooktest.NewReceiver(t, webhooktest.WithClock(f.clock))
	require.NoError(t, f.d.Stop(context.Background()))

	// Stored while no Dispatcher runs: a backlog of 20 for the hanging host
	// and one for the healthy host, all due at once.
	d, err := webhook.New(f.cfg)
	require.NoError(t, err)
	for i := range 20 {
		_, err := d.Send(context.Background(), f.recv.URL()+"/h", completed(t, "slow-"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	_, err = d.Send(context.Background(), healthy.URL()+"/h", completed(t, "ok"))
	require.NoError(t, err)

	// A restart: without the clock moving, the healthy host is served while
	// the hanging one holds its four workers.
	f.newDispatcher(t)
	o := f.next(t)
	require.Equal(t, "ok", o.delivery.ProductionID)
	require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
	require.Len(t, f.recv.WaitRequests(t, webhook.DefaultPerHostLimit), webhook.DefaultPerHostLimit)
}

// leaseLost is a MemoryStore that reports every claim lost on Extend, as
// when another dispatcher has taken the delivery over.
type leaseLost struct{ *webhook.MemoryStore }

func (leaseLost) Extend(context.Context, string, string, time.Time) error {
	return webhook.ErrClaimLost
}

func TestAttemptIsCancelledWhenItsClaimIsLost(t *testing.T) {
	f := setup(t, func(c *webhook.Config) {
		c.Store = leaseLost{webhook.NewMemoryStore()}
		c.Lease = 40 * time.Second // extended every 20 s, before the 30 s limit
	})
	f.recv.Script(webhooktest.Hang())
	f.send(t, completed(t, "p-21"))
	f.recv.WaitRequests(t, 1)

	f.clock.Advance(20 * time.Second)
	o := f.next(t)
	require.Contains(t, o.attempt.Error, "attempt cancelled: webhook: claim lost")
	require.Equal(t, 20*time.Second, o.attempt.Duration)
}

// takeoverStore is a MemoryStore that, once armed, claims as if the clock
// had jumped past every lease: it takes over deliveries whose attempts
// still run, as a paused machine or a stepped clock would.
type takeoverStore struct {
	*webhook.MemoryStore
	armed    atomic.Bool
	releases atomic.Int64
}

func (s *takeoverStore) Claim(ctx context.Context, now time.Time,
	r webhook.ClaimRequest) ([]webhook.Claim, error) {
	if s.armed.Swap(false) {
		now = now.Add(time.Hour)
	}
	return s.MemoryStore.Claim(ctx, now, r)
}

func (s *takeoverStore) Release(ctx context.Context, id, token string) error {
	s.releases.Add(1)
	return s.MemoryStore.Release(ctx, id, token)
}

func TestDeliveryHandedOutAgainWaitsForItsOwnAttempt(t *testing.T) {
	store := &takeoverStore{MemoryStore: webhook.NewMemoryStore()}
	f := setup(t, func(c *webhook.Config) { c.Store = store })
	f.recv.Script(webhooktest.Hang(), webhooktest.Status(http.StatusOK))
	id := f.send(t, completed(t, "p-22"))
	f.recv.WaitRequests(t, 1)

	// The store hands the delivery out again while attempt 1 runs: it is
	// neither attempted twice at once nor released (which would only have
	// it claimed again, over and over).
	store.armed.Store(true)
	poke := webhooktest.NewReceiver(t)
	_, err := f.d.Send(context.Background(), poke.URL()+"/poke", completed(t, "poke"))
	require.NoError(t, err)
	o := f.next(t)
	require.Equal(t, "poke", o.delivery.ProductionID)
	require.Len(t, f.recv.Requests(), 1)
	require.Zero(t, store.releases.Load())

	// Attempt 1 ends; its outcome is refused (its claim was taken over) and
	// attempt 2 starts at once.
	f.clock.Advance(webhook.DefaultAttemptTimeout)
	f.logs.waitFor(t, "webhook outcome not recorded")
	o = f.next(t)
	require.Equal(t, id, o.delivery.ID)
	require.Equal(t, 2, o.attempt.Number)
	require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
	reqs := f.recv.WaitRequests(t, 2)
	require.Equal(t, "2", reqs[1].Header.Get(webhook.HeaderDelivery))
	log, err := store.Attempts(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.True(t, log[0].Interrupted)
	require.Zero(t, store.releases.Load())
}

func TestHostAtItsCapDoesNotHideAnotherHostsRetry(t *testing.T) {
	f := setup(t, func(c *webhook.Config) { c.PerHostLimit = 1 })
	f.recv.Always(webhooktest.Hang())
	other := webhooktest.NewReceiver(t, webhooktest.WithClock(f.clock))
	other.FailTimes(1)

	// The hanging host: one attempt in flight, one more due behind it.
	f.send(t, completed(t, "slow-1"))
	f.send(t, completed(t, "slow-2"))
	f.recv.WaitRequests(t, 1)

	_, err := f.d.Send(context.Background(), other.URL()+"/h", completed(t, "ok"))
	require.NoError(t, err)
	o := f.next(t)
	require.Equal(t, "ok", o.delivery.ProductionID)
	require.Equal(t, webhook.StatusPending, o.delivery.Status)

	// Its retry runs when due, one second later, not at the next poll.
	f.advanceTo(o.delivery.NextAttemptAt)
	o = f.next(t)
	require.Equal(t, "ok", o.delivery.ProductionID)
	require.Equal(t, webhook.StatusDelivered, o.delivery.Status)
	require.Equal(t, time.Second, other.WaitRequests(t, 2)[1].Time.Sub(other.Requests()[0].Time))
}

func TestBatchNeverHoldsMoreForAHostThanItsCap(t *testing.T) {
	store := &takeoverStore{MemoryStore: webhook.NewMemoryStore()}
	f := setup(t, func(c *webhook.Config) { c.Store = store })
	f.recv.Always(webhooktest.Hang())
	require.NoError(t, f.d.Stop(context.Background()))

	// A burst for one host, stored before the Dispatcher starts: the first
	// claim takes its four, and no claim has to give any back.
	d, err := webhook.New(f.cfg)
	require.NoError(t, err)
	for i := range 20 {
		_, err := d.Send(context.Background(), f.recv.URL()+"/h", completed(t, "burst-"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	f.newDispatcher(t)
	f.recv.WaitRequests(t, webhook.DefaultPerHostLimit)
	f.clock.WaitTimers(t, 1+2*webhook.DefaultPerHostLimit) // the loop; deadline and lease of each
	require.Zero(t, store.releases.Load())
	require.Len(t, f.recv.Requests(), webhook.DefaultPerHostLimit)
}
