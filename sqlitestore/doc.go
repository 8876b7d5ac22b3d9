// Package sqlitestore keeps webhook deliveries in one SQLite file: a
// durable [webhook.Store] with no server to run, for a render service on
// one machine. It uses modernc.org/sqlite, a translation of SQLite to Go,
// so it needs no cgo. The first build of that driver takes about a minute.
//
// # Usage
//
// Open the file, hand the store to the Dispatcher, and close it after the
// Dispatcher has stopped:
//
//	store, err := sqlitestore.Open("webhooks.db")
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
//	d, err := webhook.New(webhook.Config{Store: store})
//
// A Dispatcher started on a file that holds pending deliveries resumes
// them at their stored due times; one whose claim was cut short by a crash
// is taken over once its lease runs out, its unfinished attempt logged as
// interrupted.
//
// Open creates the file and its schema if needed, and migrates an older
// schema in one transaction; the schema's version is kept in PRAGMA
// user_version, and a file from a newer version of this package is
// refused. The file must be on a local disk: SQLite's WAL mode does not
// work over a network file system.
//
// # Durability
//
// Every method that changes the store returns only after its transaction
// has been committed. By default SQLite runs with synchronous=FULL in WAL
// mode: the log is flushed to disk (fsync) on each commit, so a delivery
// that Insert accepted, and every recorded outcome, survives a crash of the
// process, of the operating system, or a power cut. [WithSynchronous] with
// [SynchronousNormal] relaxes that, for speed, to surviving a crash of the
// process only; durability is never relaxed unless asked for.
//
// Times are stored as nanoseconds since the Unix epoch and read back
// exactly, in UTC. Times outside the years 1678 to 2262 (beyond int64
// nanoseconds) are clamped to that range: they keep their order, not their
// value. The zero time stays zero.
//
// # Group commit
//
// A commit that waits for the disk takes a millisecond or more, and SQLite
// lets one writer at a time hold its lock. So the Store does not let its
// callers contend for it: every write (Insert, Claim, Extend, Release,
// Record, Purge) is handed to a single writer goroutine, which owns the one
// write connection. The writer takes all the writes waiting for it, runs
// them in one transaction, each in a savepoint of its own so that one
// write's error undoes only that write, commits once, and then answers
// each caller. While it waits for the disk the next writes queue up and
// are committed together, so the number of writes per second grows with
// the number of concurrent callers instead of being capped by the disk's
// fsync rate, and no caller ever sees "database is locked".
// [WithMaxBatch] caps the size of a batch.
//
// A caller whose context ends while its write waits in the queue gets the
// context's error and the write never runs; once the writer has started a
// write, its caller waits for the commit, so that an error always means no
// effect.
//
// Reads (Get, Attempts, List, NextDue) run on a separate pool of read-only
// connections ([WithReadConns]); in WAL mode they see the last commit and
// never wait for the writer.
//
// Several Stores, in one process or many, may open the same file: each
// has its own writer, and SQLite's lock serializes their transactions; a
// writer waits up to [WithBusyTimeout] for another's lock.
//
// # Retention
//
// Delivered and failed deliveries stay in the file, with their attempt
// logs, until [Store.Purge] deletes them. A Dispatcher does that in the
// background: it purges those finished more than Config.Retention ago
// (seven days by default; a negative Retention keeps them forever), so the
// file does not grow without bound. Pending deliveries are never purged.
// SQLite reuses the pages of purged rows; the file itself does not shrink
// unless VACUUM is run on it.
package sqlitestore
