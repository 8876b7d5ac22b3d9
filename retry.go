package webhook

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Schedule says how long to wait before the next attempt. Given the number
// of the attempt that just failed (1 for the first), it returns the delay
// before the next attempt, or false when that attempt was the last and the
// delivery is to be marked failed.
//
// A Schedule must be a pure function of its argument: a restarted process,
// or another instance sharing the store, computes the same delay for the
// same attempt, and the delay never depends on state kept between calls.
// It must end: return false for some attempt number of at most
// [MaxScheduleAttempts].
type Schedule func(failedAttempt int) (delay time.Duration, ok bool)

// MaxScheduleAttempts bounds the attempts of any Schedule.
const MaxScheduleAttempts = 100

// DefaultSchedule is the vendor's documented retry table: the first attempt
// at once, then 1 s, 5 s, 30 s, 2 min and 10 min after the previous attempt
// failed; six attempts in all.
var DefaultSchedule = Delays(
	1*time.Second, 5*time.Second, 30*time.Second, 2*time.Minute, 10*time.Minute)

// Delays returns a Schedule that waits delays[n-1] after attempt n failed,
// and ends after len(delays)+1 attempts.
func Delays(delays ...time.Duration) Schedule {
	delays = append([]time.Duration(nil), delays...)
	return func(n int) (time.Duration, bool) {
		if n < 1 || n > len(delays) {
			return 0, false
		}
		return delays[n-1], true
	}
}

// FromBackOff adapts a backoff/v4 policy to a Schedule of at most
// maxAttempts attempts. Each call builds a fresh BackOff with newBackOff and
// replays it n times, so the delay depends on the attempt number alone and
// not on state kept between attempts; with a RandomizationFactor the
// replayed delays carry their jitter, as intended. A BackOff that returns
// backoff.Stop ends the schedule early.
//
// For example, exponential delays from 1 s with 20% jitter, six attempts:
//
//	webhook.FromBackOff(func() backoff.BackOff {
//		b := backoff.NewExponentialBackOff()
//		b.InitialInterval = time.Second
//		b.RandomizationFactor = 0.2
//		b.MaxElapsedTime = 0
//		return b
//	}, 6)
func FromBackOff(newBackOff func() backoff.BackOff, maxAttempts int) Schedule {
	return func(n int) (time.Duration, bool) {
		if n < 1 || n >= maxAttempts {
			return 0, false
		}
		b := newBackOff()
		b.Reset()
		var d time.Duration
		for i := 0; i < n; i++ {
			d = b.NextBackOff()
			if d == backoff.Stop {
				return 0, false
			}
		}
		return d, true
	}
}

// maxAttempts returns how many attempts s allows, or an error if it does
// not end within MaxScheduleAttempts or returns a negative delay.
func (s Schedule) maxAttempts() (int, error) {
	for n := 1; n <= MaxScheduleAttempts; n++ {
		d, ok := s(n)
		if !ok {
			return n, nil
		}
		if d < 0 {
			return 0, fmt.Errorf("%w: Schedule: negative delay %v after attempt %d",
				ErrInvalidConfig, d, n)
		}
	}
	return 0, fmt.Errorf("%w: Schedule: does not end within %d attempts",
		ErrInvalidConfig, MaxScheduleAttempts)
}

// retryAfter parses a Retry-After header value, either delay-seconds or an
// HTTP date, relative to now. It returns false when the value is absent or
// malformed; a date in the past gives zero.
func retryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if isDigits(value) {
		// A delay too long to parse is at least as long as any limit.
		secs, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			secs = math.MaxUint32
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// nextDelay returns the wait before the attempt after failedAttempt: the
// schedule's delay, lengthened to the response's Retry-After (capped at
// limit) for a 429 or 503. It returns false when no attempt is left.
func nextDelay(s Schedule, failedAttempt, status int, header http.Header,
	now time.Time, limit time.Duration) (time.Duration, bool) {
	d, ok := s(failedAttempt)
	if !ok {
		return 0, false
	}
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return d, true
	}
	if ra, ok := retryAfter(header.Get("Retry-After"), now); ok {
		d = max(d, min(ra, limit))
	}
	return d, true
}
