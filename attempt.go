package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// maxDrain is how much of a reply's body is read, at most, so that the
// connection can be reused. Only the first MaxResponseSnippet bytes are
// kept.
const maxDrain = 64 << 10

// Causes of an attempt's context ending, told apart with context.Cause.
var (
	errAttemptTimeout = errors.New("no reply within the attempt timeout")
	errBodyTimeout    = errors.New("reply body not read within the body timeout")
	errHardStop       = errors.New("dispatcher stopped")
)

// outcome is what one attempt learned, before it is turned into a Result.
type outcome struct {
	status  int
	header  http.Header
	body    []byte
	err     error // nil on a 2xx
	refused bool  // the address was refused: no retry can help
}

// attempt makes one attempt of a claimed delivery and records its outcome.
// It runs in its own goroutine, one of at most Config.Workers.
func (d *Dispatcher) attempt(c Claim) {
	del := c.Delivery
	defer d.unreserve(del)

	n := del.Attempts
	start := d.clock.Now()
	var out outcome
	if n > d.maxAttempts {
		// A store shared with a Dispatcher on a longer schedule, or a
		// schedule shortened across a restart: nothing is left to try.
		out = outcome{err: fmt.Errorf("webhook: attempt %d is past the schedule's %d",
			n, d.maxAttempts), refused: true}
	} else {
		ctx, cancel := context.WithCancelCause(d.attemptCtx)
		stopExtend := d.extendLease(del.ID, c.Token, cancel)
		out = d.send(ctx, cancel, &del, n, start)
		stopExtend()
		cancel(nil)
	}
	d.record(c, start, out)
}

// send makes the HTTP request of attempt n and reads the reply. The
// outcome is decided by the status line; the body is read afterwards, for
// the attempt log only, under its own deadline.
func (d *Dispatcher) send(ctx context.Context, cancel context.CancelCauseFunc, del *Delivery,
	n int, start time.Time) outcome {
	deadline := d.clock.AfterFunc(d.cfg.AttemptTimeout, func() { cancel(errAttemptTimeout) })
	defer deadline.Stop()

	sig, err := d.signatureFor(ctx, del, start)
	if err != nil {
		return outcome{err: fmt.Errorf("webhook: sign: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL,
		bytes.NewReader(del.Body))
	if err != nil {
		return outcome{err: fmt.Errorf("webhook: build request for %s: %w",
			redactURL(del.URL), unwrapURLError(err)), refused: true}
	}
	setHeaders(req.Header, del, n, start, sig)

	resp, err := d.client.Do(req)
	if err != nil {
		return d.transportOutcome(ctx, del, err)
	}
	defer resp.Body.Close()

	// The status line decided the outcome. Read the body for the log within
	// whichever ends first: the attempt's deadline or the body's own.
	bodyDeadline := d.clock.AfterFunc(d.cfg.BodyTimeout, func() { cancel(errBodyTimeout) })
	defer bodyDeadline.Stop()
	body := readSnippet(resp.Body)

	out := outcome{status: resp.StatusCode, header: resp.Header, body: body}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.err = fmt.Errorf("webhook: status %d: redirect not followed", resp.StatusCode)
	default:
		out.err = fmt.Errorf("webhook: status %d", resp.StatusCode)
	}
	return out
}

// transportOutcome describes an attempt that got no status line.
func (d *Dispatcher) transportOutcome(ctx context.Context, del *Delivery, err error) outcome {
	err = unwrapURLError(err)
	target := redactURL(del.URL)
	switch cause := context.Cause(ctx); {
	case errors.Is(err, ErrAddressRefused):
		// The guard's error already says "webhook: address refused: ...".
		return outcome{err: fmt.Errorf("%w (post %s)", err, target), refused: true}
	case errors.Is(cause, errAttemptTimeout):
		return outcome{err: fmt.Errorf("webhook: post %s: %w (%v)", target, cause,
			d.cfg.AttemptTimeout)}
	case errors.Is(cause, errHardStop), errors.Is(cause, ErrClaimLost):
		return outcome{err: fmt.Errorf("webhook: post %s: attempt cancelled: %w", target, cause)}
	default:
		return outcome{err: fmt.Errorf("webhook: post %s: %w", target, err)}
	}
}

// unwrapURLError drops the *url.Error layer, whose text holds the full URL
// with its query string.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// readSnippet reads up to maxDrain bytes of body and returns the first
// MaxResponseSnippet. A read error (a slow body cut by its deadline) ends
// the read; what was read is kept.
func readSnippet(body io.Reader) []byte {
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, io.LimitReader(body, MaxResponseSnippet))
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain-MaxResponseSnippet))
	if buf.Len() == 0 {
		return nil
	}
	return buf.Bytes()
}

// extendLease keeps the claim alive while the attempt runs, extending it
// every half lease, and returns a function that stops doing so and waits
// until it has stopped. If the claim was lost (another dispatcher took the
// delivery over), the attempt is cancelled: the new holder attempts it.
func (d *Dispatcher) extendLease(id, token string, cancel context.CancelCauseFunc) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	// The timer starts before the attempt does, on the attempt's clock.
	every := d.cfg.Lease / 2
	t := d.clock.NewTimer(every)
	go func() {
		defer close(done)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C():
			}
			ctx, cancelStore := d.storeCtx()
			err := d.cfg.Store.Extend(ctx, id, token, d.clock.Now().Add(d.cfg.Lease))
			cancelStore()
			if errors.Is(err, ErrClaimLost) {
				d.log.Warn("webhook claim lost; attempt cancelled",
					slog.String(keyDeliveryID, id), slog.String(keyError, err.Error()))
				cancel(ErrClaimLost)
				return
			}
			if err != nil {
				d.log.Warn("webhook lease extension failed",
					slog.String(keyDeliveryID, id), slog.String(keyError, err.Error()))
			}
			t.Reset(every)
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// record turns an outcome into a Result, stores it, logs it and reports it
// to Config.OnAttempt.
func (d *Dispatcher) record(c Claim, start time.Time, out outcome) {
	del := c.Delivery
	now := d.clock.Now()
	a := Attempt{
		Number:       del.Attempts,
		StartedAt:    start,
		Duration:     now.Sub(start),
		StatusCode:   out.status,
		ResponseBody: out.body,
	}
	r := Result{Attempt: a}
	reason := ""
	switch {
	case out.err == nil:
		r.Status = StatusDelivered
		r.FinishedAt = now
	case out.refused:
		r.Status, r.FinishedAt, reason = StatusFailed, now, ReasonRefused
	default:
		delay, ok := nextDelay(d.cfg.Schedule, a.Number, out.status, out.header,
			now, d.cfg.RetryAfterLimit)
		if ok {
			r.Status, r.NextAttemptAt = StatusPending, now.Add(delay)
		} else {
			r.Status, r.FinishedAt, reason = StatusFailed, now, ReasonExhausted
		}
	}
	if out.err != nil {
		r.Attempt.Error = out.err.Error()
		r.LastError = r.Attempt.Error
		if reason != "" {
			r.LastError = reason + ": " + r.LastError
		}
	}

	ctx, cancel := d.storeCtx()
	err := d.cfg.Store.Record(ctx, del.ID, c.Token, r)
	cancel()
	if err != nil {
		level := slog.LevelError
		if errors.Is(err, ErrClaimLost) {
			level = slog.LevelWarn
		}
		d.log.Log(context.Background(), level, "webhook outcome not recorded",
			slog.String(keyDeliveryID, del.ID), slog.Int(keyAttempt, a.Number),
			slog.String(keyError, err.Error()))
		return
	}

	del.Status, del.NextAttemptAt = r.Status, r.NextAttemptAt
	del.FinishedAt, del.LeaseUntil = r.FinishedAt, time.Time{}
	if r.LastError != "" {
		del.LastError = r.LastError
	}
	d.logOutcome(&del, &r.Attempt, reason)
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(del, r.Attempt)
	}
}

// logOutcome writes the attempt's line and, for a final state, the
// delivery's.
func (d *Dispatcher) logOutcome(del *Delivery, a *Attempt, reason string) {
	attrs := []slog.Attr{
		slog.String(keyDeliveryID, del.ID),
		slog.String(keyProductionID, del.ProductionID),
		slog.String(keyEvent, string(del.EventType)),
		slog.String(keyURL, redactURL(del.URL)),
		slog.Int(keyAttempt, a.Number),
		slog.Int(keyStatusCode, a.StatusCode),
		slog.Int64(keyDurationMS, a.Duration.Milliseconds()),
	}
	ctx := context.Background()
	if a.Error == "" {
		d.log.LogAttrs(ctx, slog.LevelInfo, "webhook attempt succeeded", attrs...)
	} else {
		attrs = append(attrs, slog.String(keyError, a.Error))
		if del.Status == StatusPending {
			attrs = append(attrs, slog.Time(keyNextAttempt, del.NextAttemptAt))
		}
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhook attempt failed", attrs...)
	}

	if del.Status == StatusPending {
		return
	}
	final := []slog.Attr{
		slog.String(keyDeliveryID, del.ID),
		slog.String(keyProductionID, del.ProductionID),
		slog.String(keyEvent, string(del.EventType)),
		slog.String(keyState, string(del.Status)),
		slog.Int(keyAttempts, del.Attempts),
	}
	if del.Status == StatusDelivered {
		d.log.LogAttrs(ctx, slog.LevelInfo, "webhook delivered", final...)
		return
	}
	final = append(final, slog.String(keyError, a.Error), slog.String(keyReason, reason))
	d.log.LogAttrs(ctx, slog.LevelError, "webhook failed", final...)
}
