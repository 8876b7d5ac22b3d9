// Package webhook delivers a video render service's webhooks,
// production.completed and production.failed, to the URL each customer gave
// with its production, exactly as the StrataKit webhook page documents them,
// and signs them as the Standard Webhooks specification describes.
//
// # Sending
//
// A [Dispatcher] stores each delivery in a [Store] before [Dispatcher.Send]
// returns, makes the first attempt at once, and retries on the vendor's
// schedule until the receiver answers 2xx or six attempts have failed:
//
//	store := webhook.NewMemoryStore() // or sqlitestore, or pgstore
//	d, err := webhook.New(webhook.Config{Store: store, Logger: slog.Default()})
//	if err != nil { ... }
//	if err := d.Start(); err != nil { ... }
//	defer d.Stop(context.Background())
//
//	e, err := webhook.Completed(productionID, outputURL, finishedAt)
//	if err != nil { ... } // bad input is refused before anything is stored
//	id, err := d.Send(ctx, customerWebhookURL, e)
//
// # The wire
//
// Every attempt is a POST whose body is the event's payload, byte for byte
// the same on every attempt (see [Event.Payload]), with these headers:
//
//	Content-Type: application/json
//	User-Agent: StrataKit-Webhook/1.0
//	X-StrataKit-Production-Id: <production ID>
//	X-StrataKit-Delivery: <attempt number, 1 to 6>
//	webhook-id: <delivery ID, the same on every attempt>
//	webhook-timestamp: <this attempt's time, Unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256>  (when a secret is set)
//
// # Retries
//
// An attempt fails on a status outside 2xx (a 3xx too: redirects are never
// followed), on a transport error, or when no status line arrives within
// 30 s of its start. The next attempt waits 1 s, 5 s, 30 s, 2 min and then
// 10 min after the previous failure ([DefaultSchedule]); a 429 or 503 with
// Retry-After waits longer, up to [Config.RetryAfterLimit]. After the sixth
// failure the delivery is marked failed. Due times are stored, so a
// restarted process keeps the schedule, and attempt numbers never repeat.
//
// # Stores
//
// [NewMemoryStore] keeps deliveries in memory: for tests, and for services
// that accept losing pending webhooks on a crash. The sqlitestore module
// keeps them in an embedded SQLite file, and the pgstore module in a
// PostgreSQL database that several instances share, with inserts inside the
// caller's transaction. Package storetest checks any Store against the
// contract documented on [Store].
//
// # Safety
//
// Webhook URLs are https only unless [Config.AllowHTTP] is set. An SSRF
// guard refuses loopback, private, link-local and other non-public
// addresses, on the address actually dialed; [Config.Allow] opens
// exceptions, such as loopback for tests. Query strings are redacted from
// logs and errors, and secrets never appear in either.
//
// # Testing
//
// Package webhooktest has a fake [Clock], a recording receiver that answers
// by a script, and a way to wait for an attempt's outcome, so a test runs
// the whole six-attempt schedule in milliseconds without sleeping.
//
// # Stopping
//
// [Dispatcher.Stop] stops gracefully: no new attempt starts, attempts in
// flight finish, pending deliveries stay in the store for the next start.
// [Dispatcher.StopAndCancel] also cancels attempts in flight.
package webhook
