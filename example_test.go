package webhook_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

// A completed event's payload, exactly as it goes on the wire: keys in
// the vendor's order, null where there is no value, '&' kept as itself.
func ExampleCompleted() {
	at := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	e, err := webhook.Completed("550e8400-e29b-41d4-a716-446655440000",
		"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Expires=3600&X-Amz-Signature=abc", at)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := e.Payload()
	fmt.Println(string(body))
	// Output:
	// {"event":"production.completed","timestamp":"2026-01-15T10:30:00Z","data":{"production_id":"550e8400-e29b-41d4-a716-446655440000","status":"completed","output_url":"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Expires=3600&X-Amz-Signature=abc","error":null}}
}

// A failed render is always reported: invalid UTF-8 from a render tool is
// repaired, not refused. Bad input that cannot be repaired is refused with
// an error naming the field.
func ExampleFailed() {
	e, err := webhook.Failed("prod-1", "ffmpeg: \xff unsupported codec", time.Time{})
	fmt.Printf("%+q %v\n", e.Error, err)

	_, err = webhook.Failed("prod 1", "boom", time.Time{})
	fmt.Println(err)
	// Output:
	// "ffmpeg: \ufffd unsupported codec" <nil>
	// webhook: invalid event: ProductionID: byte 0x20 at offset 4 is not printable ASCII (the ID is sent in a header)
}

// The vendor's retry table: the wait after each failed attempt.
func ExampleDefaultSchedule() {
	for n := 1; ; n++ {
		d, ok := webhook.DefaultSchedule(n)
		if !ok {
			fmt.Printf("attempt %d was the last\n", n)
			return
		}
		fmt.Printf("after attempt %d fails: %v\n", n, d)
	}
	// Output:
	// after attempt 1 fails: 1s
	// after attempt 2 fails: 5s
	// after attempt 3 fails: 30s
	// after attempt 4 fails: 2m0s
	// after attempt 5 fails: 10m0s
	// attempt 6 was the last
}

// A schedule built from a backoff/v4 policy. Each delay is computed from
// the attempt number alone, so a restarted process computes the same.
func ExampleFromBackOff() {
	s := webhook.FromBackOff(func() backoff.BackOff {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 2 * time.Second
		b.Multiplier = 3
		b.RandomizationFactor = 0 // set, say, 0.2 for jitter
		b.MaxElapsedTime = 0
		return b
	}, 4)
	for n := 1; n <= 4; n++ {
		d, ok := s(n)
		fmt.Println(n, d, ok)
	}
	// Output:
	// 1 2s true
	// 2 6s true
	// 3 18s true
	// 4 0s false
}

// Sending a webhook and reading its attempt log. The receiver here is a
// local test server and the clock a fake one; in production leave Clock
// nil and keep AllowHTTP and Allow unset.
func ExampleDispatcher_Send() {
	var local webhooktest.Standalone
	defer local.Close()
	clock := webhooktest.NewClock(time.Time{})
	recv := webhooktest.NewReceiver(&local, webhooktest.WithClock(clock))
	recv.FailTimes(1)
	var outcomes webhooktest.Outcomes

	d, err := webhook.New(webhook.Config{
		Store:     webhook.NewMemoryStore(),
		Clock:     clock,
		OnAttempt: outcomes.Observe,
		AllowHTTP: true,
		Allow:     []string{"127.0.0.1", "::1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := d.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Stop(context.Background())

	e, _ := webhook.Failed("prod-1", "Invalid video format: unsupported codec", time.Time{})
	id, err := d.Send(context.Background(), recv.URL()+"/hooks", e)
	if err != nil {
		fmt.Println(err)
		return
	}
	first := outcomes.Wait(&local, 1)[0]
	clock.Advance(first.Delivery.NextAttemptAt.Sub(clock.Now()))
	final := outcomes.WaitFinal(&local, id)
	fmt.Println(final.Delivery.Status, "after", final.Delivery.Attempts, "attempts")

	log, _ := d.Attempts(context.Background(), id)
	for _, a := range log {
		fmt.Printf("attempt %d at +%v: %d %s\n", a.Number,
			a.StartedAt.Sub(webhooktest.NewClock(time.Time{}).Now()), a.StatusCode, a.Error)
	}
	// Output:
	// delivered after 2 attempts
	// attempt 1 at +0s: 500 webhook: status 500
	// attempt 2 at +1s: 200
}
