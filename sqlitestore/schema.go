package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's versions: migrations[i] takes a database
// from version i to version i+1, where version 0 is an empty file. The
// version is kept in PRAGMA user_version. A migration, once released, is
// never edited: a change to the schema is a new entry at the end.
//
// Times are INTEGER nanoseconds since the Unix epoch, UTC (see encodeTime);
// the zero time.Time is the smallest int64. Text that may be absent is
// NULL (idempotency_key, claim_token), never an empty string, so that
// UNIQUE ignores it.
var migrations = []string{
	// 1: deliveries and their attempt logs.
	`
CREATE TABLE deliveries (
	id              TEXT    NOT NULL PRIMARY KEY,
	idempotency_key TEXT    UNIQUE,
	url             TEXT    NOT NULL,
	host            TEXT    NOT NULL,
	event_type      TEXT    NOT NULL,
	production_id   TEXT    NOT NULL,
	body            BLOB,
	secret_key      TEXT    NOT NULL,
	status          TEXT    NOT NULL
		CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	claim_token     TEXT,
	claimed_at      INTEGER NOT NULL,
	lease_until     INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	finished_at     INTEGER NOT NULL
) STRICT;

-- Claim: unclaimed due deliveries in due order; NextDue: the earliest.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id)
	WHERE status = 'pending' AND claim_token IS NULL;
-- Claim (takeover of expired leases) and NextDue: the claimed ones.
CREATE INDEX deliveries_claimed ON deliveries (lease_until)
	WHERE status = 'pending' AND claim_token IS NOT NULL;
-- List, by creation.
CREATE INDEX deliveries_created ON deliveries (created_at, id);
CREATE INDEX deliveries_status ON deliveries (status, created_at, id);
CREATE INDEX deliveries_production ON deliveries (production_id, created_at, id);
-- Purge.
CREATE INDEX deliveries_finished ON deliveries (finished_at)
	WHERE status <> 'pending';

CREATE TABLE attempts (
	seq           INTEGER PRIMARY KEY,
	delivery_id   TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	number        INTEGER NOT NULL,
	started_at    INTEGER NOT NULL,
	duration_ns   INTEGER NOT NULL,
	status_code   INTEGER NOT NULL,
	response_body BLOB,
	error         TEXT    NOT NULL,
	interrupted   INTEGER NOT NULL
) STRICT;

CREATE INDEX attempts_delivery ON attempts (delivery_id, number, seq);
`,
}

// migrate brings the database on db up to the latest schema version, in
// one transaction, and refuses a database from a newer version of this
// package.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhook: sqlitestore: migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("webhook: sqlitestore: migrate: read user_version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("webhook: sqlitestore: migrate: schema version %d is newer "+
			"than this package knows (%d)", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}

	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("webhook: sqlitestore: migrate to version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameter; the value is our own integer.
	pragma := fmt.Sprintf("PRAGMA user_version = %d", len(migrations))
	if _, err := tx.ExecContext(ctx, pragma); err != nil {
		return fmt.Errorf("webhook: sqlitestore: migrate: set user_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhook: sqlitestore: migrate: commit: %w", err)
	}
	return nil
}

// schemaVersion returns the latest schema version, the one Open leaves a
// database at.
func schemaVersion() int { return len(migrations) }
