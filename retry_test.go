package webhook_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
)

func TestDefaultScheduleIsTheVendorTable(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 5 * time.Second, 30 * time.Second,
		2 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		d, ok := webhook.DefaultSchedule(i + 1)
		require.True(t, ok, "after attempt %d", i+1)
		require.Equal(t, w, d, "after attempt %d", i+1)
	}
	_, ok := webhook.DefaultSchedule(6)
	require.False(t, ok, "attempt 6 is the last")
	_, ok = webhook.DefaultSchedule(0)
	require.False(t, ok)
}

func TestFromBackOffIsAPureFunction(t *testing.T) {
	t.Parallel()
	s := webhook.FromBackOff(func() backoff.BackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = time.Second
		b.Multiplier = 2
		b.RandomizationFactor = 0
		b.MaxElapsedTime = 0
		return b
	}, 4)
	for range 2 { // the same answers every time: no state between calls
		for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second,
			3: 4 * time.Second} {
			d, ok := s(n)
			require.True(t, ok)
			require.Equal(t, want, d)
		}
	}
	_, ok := s(4)
	require.False(t, ok)

	jittered := webhook.FromBackOff(func() backoff.BackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 10 * time.Second
		b.RandomizationFactor = 0.5
		return b
	}, 6)
	d, ok := jittered(1)
	require.True(t, ok)
	require.InDelta(t, float64(10*time.Second), float64(d), float64(5*time.Second))
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	tests := map[string]struct {
		value string
		want  time.Duration
		ok    bool
	}{
		"seconds":      {value: "120", want: 2 * time.Minute, ok: true},
		"spaces":       {value: " 7 ", want: 7 * time.Second, ok: true},
		"http date":    {value: "Thu, 15 Jan 2026 10:35:00 GMT", want: 5 * time.Minute, ok: true},
		"date passed":  {value: "Thu, 15 Jan 2026 10:00:00 GMT", want: 0, ok: true},
		"empty":        {value: "", ok: false},
		"negative":     {value: "-5", ok: false},
		"garbage":      {value: "soon", ok: false},
		"huge seconds": {value: "99999999999999999999", want: math.MaxUint32 * time.Second, ok: true},
		"plus sign":    {value: "+5", ok: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := webhook.RetryAfter(tc.value, now)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNextDelayHonoursRetryAfterWithinLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	limit := 10 * time.Minute
	header := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	tests := map[string]struct {
		attempt int
		status  int
		header  http.Header
		want    time.Duration
		ok      bool
	}{
		"schedule when longer":      {1, 429, header("0"), time.Second, true},
		"retry-after when longer":   {1, 503, header("90"), 90 * time.Second, true},
		"capped at the limit":       {2, 429, header("86400"), limit, true},
		"huge is capped too":        {2, 429, header("4294967296"), limit, true},
		"ignored on a 500":          {1, 500, header("90"), time.Second, true},
		"no header":                 {3, 503, http.Header{}, 30 * time.Second, true},
		"last attempt stays last":   {6, 429, header("5"), 0, false},
		"schedule beyond the limit": {5, 429, header("1"), 10 * time.Minute, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := webhook.NextDelay(webhook.DefaultSchedule, tc.attempt, tc.status,
				tc.header, now, limit)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}
