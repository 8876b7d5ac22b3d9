// Package webhooktest is a kit for testing code that sends webhooks with
// package webhook: a fake [Clock] to advance instead of sleeping, a
// recording [Receiver] that answers by a script, [Outcomes] to wait until
// an attempt's outcome has been recorded, and [NewDispatcher] to build a
// Dispatcher wired for a test.
//
// The package uses only the standard library and package webhook, so
// importing it adds no dependency to a module.
//
// # Waiting without sleeping
//
// A test never sleeps to let time pass. It waits for a signal instead:
// [Receiver.WaitRequests] until requests have arrived, [Outcomes.Wait]
// until outcomes have been recorded, [Clock.WaitTimers] until the code under
// test waits on the fake clock; then it calls [Clock.Advance] or
// [Clock.Set]. Every such wait has a safety limit of [WaitLimit] real time,
// after which it fails the test rather than hang it.
//
// # A whole retry schedule in a unit test
//
// A delivery's due times are absolute and stored, so a test may move the
// fake clock to the next due time as soon as an outcome is recorded:
//
//	clock := webhooktest.NewClock(time.Time{})
//	rcv := webhooktest.NewReceiver(t)
//	rcv.Always(webhooktest.Status(http.StatusInternalServerError))
//	var out webhooktest.Outcomes
//	cfg := webhook.Config{Clock: clock, OnAttempt: out.Observe}
//	d := webhooktest.NewDispatcher(t, cfg)
//	d.Send(ctx, rcv.URL(), event)
//	for n := 1; ; n++ {
//		o := out.Wait(t, n)[n-1]
//		if o.Delivery.Status != webhook.StatusPending {
//			break // failed after the sixth attempt
//		}
//		clock.Set(o.Delivery.NextAttemptAt)
//	}
//
// The six attempts of the default schedule, at 0, 1, 6, 36, 156 and 756
// seconds of fake time, then run in a few milliseconds of real time.
package webhooktest
