package webhooktest_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/stratakit/webhook/webhooktest"
)

// A receiver fails the first request, asks for a later retry on the
// second, and accepts the rest; it records each request with its header
// names as spelled on the wire.
func ExampleReceiver() {
	t := new(webhooktest.Standalone) // in a test: its *testing.T
	defer t.Close()

	rcv := webhooktest.NewReceiver(t)
	rcv.Script(
		webhooktest.Status(http.StatusInternalServerError),
		webhooktest.RetryAfter(http.StatusServiceUnavailable, "120"),
	)

	for i := 1; i <= 3; i++ {
		req, _ := http.NewRequest(http.MethodPost, rcv.URL()+"/webhooks",
			strings.NewReader(`{"event":"production.completed"}`))
		req.Header["X-StrataKit-Delivery"] = []string{fmt.Sprint(i)}
		resp, err := rcv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Println(i, resp.Status, "Retry-After:", ra)
			continue
		}
		fmt.Println(i, resp.Status)
	}

	for _, r := range rcv.WaitRequests(t, 3) {
		name, _ := r.WireName("x-stratakit-delivery")
		fmt.Printf("request %d: %s %s, %s: %s, %s\n", r.N, r.Method, r.Path,
			name, r.Header.Get(name), r.Body)
	}

	// Output:
	// 1 500 Internal Server Error
	// 2 503 Service Unavailable Retry-After: 120
	// 3 200 OK
	// request 1: POST /webhooks, X-StrataKit-Delivery: 1, {"event":"production.completed"}
	// request 2: POST /webhooks, X-StrataKit-Delivery: 2, {"event":"production.completed"}
	// request 3: POST /webhooks, X-StrataKit-Delivery: 3, {"event":"production.completed"}
}
