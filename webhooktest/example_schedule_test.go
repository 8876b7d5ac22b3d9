package webhooktest_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/webhooktest"
)

// A unit test that runs the whole default schedule against an endpoint
// that always fails: six attempts at 0, 1, 6, 36, 156 and 756 seconds of
// fake time, then the delivery is failed. It takes milliseconds of real
// time. Each step waits until the attempt's outcome is recorded, then
// moves the clock to the next due time.
func ExampleNewDispatcher() {
	t := new(webhooktest.Standalone) // in a test: its *testing.T
	defer t.Close()

	clock := webhooktest.NewClock(time.Time{})
	rcv := webhooktest.NewReceiver(t)
	rcv.Always(webhooktest.Status(http.StatusInternalServerError))
	var out webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock, OnAttempt: out.Observe})

	event, err := webhook.Failed("550e8400-e29b-41d4-a716-446655440000",
		"Invalid video format: unsupported codec", time.Time{})
	if err != nil {
		t.Fatalf("event: %v", err)
	}
	if _, err := d.Send(context.Background(), rcv.URL(), event); err != nil {
		t.Fatalf("send: %v", err)
	}

	start := clock.Now()
	for n := 1; ; n++ {
		o := out.Wait(t, n)[n-1]
		fmt.Printf("attempt %d at %v: status %d, delivery %s\n", o.Attempt.Number,
			o.Attempt.StartedAt.Sub(start), o.Attempt.StatusCode, o.Delivery.Status)
		if o.Delivery.Status != webhook.StatusPending {
			break
		}
		clock.Set(o.Delivery.NextAttemptAt)
	}
	fmt.Println("requests received:", len(rcv.Requests()))

	// Output:
	// attempt 1 at 0s: status 500, delivery pending
	// attempt 2 at 1s: status 500, delivery pending
	// attempt 3 at 6s: status 500, delivery pending
	// attempt 4 at 36s: status 500, delivery pending
	// attempt 5 at 2m36s: status 500, delivery pending
	// attempt 6 at 12m36s: status 500, delivery failed
	// requests received: 6
}
