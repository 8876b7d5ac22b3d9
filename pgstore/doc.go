// Package pgstore is a [webhook.Store] on PostgreSQL, for a render service
// that runs several instances against one database. Each instance runs a
// Dispatcher on a Store of its own over the same tables; every delivery is
// attempted by one of them at a time, on its stored schedule, whatever
// happens to any one instance.
//
// # Opening
//
// A Store uses the caller's pool and never closes it:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil { ... }
//	defer pool.Close()
//	store, err := pgstore.Open(ctx, pool, pgstore.Options{Schema: "webhooks"})
//	if err != nil { ... }
//	defer store.Close() // after the Dispatcher has stopped
//	d, err := webhook.New(webhook.Config{Store: store})
//
// It needs PostgreSQL 13 or later.
//
// # Schema and migrations
//
// The store keeps three tables in Options.Schema, their names starting with
// Options.TablePrefix ("webhook_" by default): deliveries, attempts (the
// attempt log, deleted with its delivery) and schema_migrations (one row
// per schema version applied). [Open] migrates them to the version the
// package needs, creating the schema if it is missing. Migrations run in
// one transaction under an advisory lock (pg_advisory_xact_lock) keyed on
// the schema, so instances that start at once apply each version once.
//
// Teams that apply migrations themselves either call [Migrate] from a
// deploy step, or take the SQL of every version from [Migrations] into
// their own tool (each version ends by recording itself in
// schema_migrations); either way they open the store with
// Options.SkipMigrate, and Open then checks the version:
//
//	ms, err := pgstore.Migrations(pgstore.Options{Schema: "webhooks"})
//	for _, m := range ms {
//		fmt.Printf("-- version %d\n%s\n", m.Version, m.SQL)
//	}
//
// # Claims across processes
//
// A Dispatcher asks for as many due deliveries as it has free workers, in
// one statement: SELECT ... ORDER BY next_attempt_at LIMIT n FOR UPDATE
// SKIP LOCKED, so that claimers in other processes pass over the rows it
// is locking instead of waiting, and no delivery is handed out twice. Each
// claimed delivery gets a fresh random token and a lease; the Dispatcher
// extends the lease every half lease while the attempt runs, and records
// the outcome with the token. A claim whose lease has expired, because
// its instance died or lost the database, is taken over by the next Claim
// of any instance, in the same statement: the unfinished attempt is
// logged as interrupted and counts as made, and the delivery is failed if
// that was its last attempt. From then on the old holder's token is
// refused with [webhook.ErrClaimLost], so it cannot record its outcome over
// the new owner's.
//
// # How long a duplicate can follow
//
// Delivery is at least once. A receiver sees one webhook-id twice when an
// instance dies, or loses the database, after its request went out and
// before its outcome was recorded: another instance makes the next attempt
// once the lease has expired. The lease ends Config.Lease (one minute by
// default) after the holder's last claim or extension, as read on the
// holder's clock, and the taker compares that time with its own clock. The
// duplicate therefore comes at most the lease length plus the clock skew
// between the two instances after the holder's last sign of life.
// Receivers that deduplicate on webhook-id must remember IDs at least that
// long; retries after failures repeat IDs over longer spans anyway.
//
// The store never reads the database's clock: every time comes from the
// Dispatcher's Clock, so that tests run leases on fake time. The price is
// that instance clocks must agree: an instance whose clock runs ahead of a
// live holder's by more than about half the lease (the holder's extension
// interval) could take the claim over while the holder is still
// attempting, and both would send. Keep clocks synchronized (NTP keeps
// them within milliseconds). Times are stored as timestamptz, to the
// microsecond.
//
// # The per-host cap is per process
//
// Config.PerHostLimit counts one Dispatcher's attempts. N instances may
// run N × PerHostLimit attempts to one host at once; to hold a customer's
// endpoint to K concurrent requests, give each instance a PerHostLimit of
// K/N. A claim skips the hosts this process already has at their cap; a
// batch that brings more deliveries for one host than its free slots is
// partly given back (Release), since a ClaimRequest does not say how many
// more each host may take.
//
// # Waking
//
// Unless Options.DisableListen is set, each store holds one connection,
// taken out of the pool, that LISTENs on Options.NotifyChannel; a notice
// makes [Store.Wake] receive, and the Dispatcher looks for due work at
// once. A store that inserts or releases a delivery sends a notice just
// after its commit, one for all the inserts committed while the previous
// notice was on its way: a NOTIFY inside every insert would serialize the
// commits (Postgres holds a database-wide lock over each notifying commit
// until it is flushed). A Dispatcher also pokes itself after its own Send,
// so the notices matter for the other instances. The listener reconnects
// with backoff after an error and wakes once it is back, for the notices
// it missed. Behind a pooler in transaction mode, which cannot LISTEN, set
// DisableListen: other instances' deliveries are then found on each
// Dispatcher's poll (Config.PollInterval, 5 s by default).
//
// # Enqueue inside the caller's transaction
//
// [Store.InsertTx] inserts a delivery in the caller's pgx.Tx, beside the
// render result, so that the webhook exists if and only if that
// transaction commits. Its NOTIFY is part of the transaction, and Postgres
// sends it only at commit: a Dispatcher picks the delivery up promptly
// after the commit, and never sees one that was rolled back. Build the
// delivery with the Dispatcher, which validates it exactly as Send does:
//
//	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if err := saveRender(ctx, tx, render); err != nil {
//			return err
//		}
//		d, err := dispatcher.NewDelivery(render.WebhookURL, event,
//			webhook.WithIdempotencyKey(render.ID))
//		if err != nil {
//			return err
//		}
//		_, err = store.InsertTx(ctx, tx, d)
//		return err
//	})
//
// [Store.SendTx] does both steps in one call.
//
// # Retention
//
// Finished deliveries are purged by the Dispatchers, as with the other
// stores: each one deletes those finished more than Config.Retention ago
// (7 days by default) every tenth of that window, at least a minute and at
// most an hour apart, with one DELETE; the attempt logs go with them, and
// their idempotency keys are free again. With N instances the purges
// overlap harmlessly.
//
// # Operations
//
// The deliveries table is a queue: every attempt updates its row twice.
// Keep autovacuum on, so that dead rows are reclaimed and the planner has
// statistics; the claim's ordered index scan depends on them, and on a
// server without autovacuum, run ANALYZE on the table now and then.
package pgstore
