package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one version of the store's schema: the statements that take
// the tables from the previous version to this one, ending with the row
// that records the version in <prefix>schema_migrations.
type Migration struct {
	// Version numbers the migrations from 1, in the order they apply.
	Version int
	// SQL is the statements, separated by semicolons, with the schema and
	// table names of the Options filled in.
	SQL string
}

// migrations are the schema versions in order. The text uses the
// placeholders of names.replacer. A released migration is never edited: a
// change is a new version.
var migrations = []string{
	1: `
CREATE TABLE {deliveries} (
	id              text        PRIMARY KEY,
	idempotency_key text        UNIQUE,
	url             text        NOT NULL,
	host            text        NOT NULL,
	event_type      text        NOT NULL,
	production_id   text        NOT NULL,
	body            bytea       NOT NULL,
	secret_key      text        NOT NULL DEFAULT '',
	status          text        NOT NULL DEFAULT 'pending'
	                CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        integer     NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	claim_token     text,
	claimed_at      timestamptz,
	lease_until     timestamptz,
	last_error      text        NOT NULL DEFAULT '',
	created_at      timestamptz NOT NULL,
	finished_at     timestamptz,
	CHECK ((claim_token IS NULL) = (lease_until IS NULL)),
	CHECK (claim_token IS NULL OR status = 'pending')
);
CREATE INDEX {prefix}deliveries_due ON {deliveries} (next_attempt_at, id)
	WHERE status = 'pending';
CREATE INDEX {prefix}deliveries_lease ON {deliveries} (lease_until)
	WHERE claim_token IS NOT NULL;
CREATE INDEX {prefix}deliveries_finished ON {deliveries} (finished_at)
	WHERE status <> 'pending';
CREATE INDEX {prefix}deliveries_status ON {deliveries} (status, created_at, id);
CREATE INDEX {prefix}deliveries_production
	ON {deliveries} (production_id, created_at, id);
CREATE TABLE {attempts} (
	delivery_id   text        NOT NULL REFERENCES {deliveries} (id) ON DELETE CASCADE,
	number        integer     NOT NULL,
	started_at    timestamptz NOT NULL,
	duration_ns   bigint      NOT NULL,
	status_code   integer     NOT NULL,
	response_body bytea       NOT NULL,
	error         text        NOT NULL,
	interrupted   boolean     NOT NULL,
	PRIMARY KEY (delivery_id, number)
);
INSERT INTO {migrations} (version) VALUES (1);
`,
}

// bootstrap creates the table that records the versions applied.
const bootstrap = `
CREATE TABLE IF NOT EXISTS {migrations} (
	version    integer     PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
);
`

// latestVersion is the schema version this package needs.
var latestVersion = len(migrations) - 1

// replacer fills the placeholders of the migrations' text.
func (n names) replacer() *strings.Replacer {
	return strings.NewReplacer(
		"{schema}", n.schema,
		"{deliveries}", n.deliveries,
		"{attempts}", n.attempts,
		"{migrations}", n.migrations,
		"{prefix}", n.prefix,
	)
}

// Migrations returns every migration for the tables that o names, in
// order, for teams that apply them with their own tool: apply those whose
// Version is above the highest in <prefix>schema_migrations (all of them
// on an empty database), each in a transaction, then open the store with
// Options.SkipMigrate. The first one also creates the schema, unless it is
// "public", and the schema_migrations table.
//
// It returns an error wrapping webhook.ErrInvalidConfig if o is invalid.
func Migrations(o Options) ([]Migration, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	n := o.names()
	r := n.replacer()
	out := make([]Migration, 0, latestVersion)
	for v := 1; v <= latestVersion; v++ {
		sql := r.Replace(migrations[v])
		if v == 1 {
			sql = r.Replace(bootstrap) + sql
			if o.Schema != DefaultSchema {
				sql = "\nCREATE SCHEMA IF NOT EXISTS " + n.schema + ";" + sql
			}
		}
		out = append(out, Migration{Version: v, SQL: strings.TrimPrefix(sql, "\n")})
	}
	return out, nil
}

// Migrate brings the tables that o names to the latest schema version,
// creating the schema and the tables when missing. It is what [Open] does
// unless Options.SkipMigrate is set, for deploy steps that migrate before
// the service starts.
//
// Migrations run in one transaction under a Postgres advisory lock
// (pg_advisory_xact_lock) keyed on the schema, so several instances
// starting at once apply each version exactly once: the others wait for
// the lock and then find nothing left to do. A database already at a
// newer version than this package knows is left alone, so that instances
// of an older release keep running during a rolling deploy.
//
// It returns an error wrapping webhook.ErrInvalidConfig if o is invalid.
func Migrate(ctx context.Context, pool *pgxpool.Pool, o Options) error {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return err
	}
	return migrate(ctx, pool, o.Schema, o.names())
}

// migrate applies the missing versions in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, n names) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: pgstore migrate: %w", err)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, n.lockKey); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}

		// CREATE SCHEMA IF NOT EXISTS would still need the CREATE privilege
		// on the database, which a role owning only its schema lacks.
		var exists bool
		err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`,
			schema).Scan(&exists)
		if err != nil {
			return fmt.Errorf("look up schema %s: %w", n.schema, err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA `+n.schema); err != nil {
				return fmt.Errorf("create schema %s: %w", n.schema, err)
			}
		}

		r := n.replacer()
		if _, err := tx.Exec(ctx, r.Replace(bootstrap)); err != nil {
			return fmt.Errorf("create %s: %w", n.migrations, err)
		}
		var current int
		err = tx.QueryRow(ctx,
			`SELECT coalesce(max(version), 0) FROM `+n.migrations).Scan(&current)
		if err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		for v := current + 1; v <= latestVersion; v++ {
			if _, err := tx.Exec(ctx, r.Replace(migrations[v])); err != nil {
				return fmt.Errorf("apply version %d: %w", v, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook: pgstore migrate: %w", err)
	}
	return nil
}

// checkVersion returns an error unless the tables are at least at the
// latest version, for stores opened with SkipMigrate.
func checkVersion(ctx context.Context, pool *pgxpool.Pool, n names) error {
	var current int
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+n.migrations).
		Scan(&current)
	if err != nil {
		return fmt.Errorf("webhook: pgstore open: read the schema version from %s "+
			"(SkipMigrate is set; apply Migrations or call Migrate first): %w",
			n.migrations, err)
	}
	if current < latestVersion {
		return fmt.Errorf("webhook: pgstore open: %s is at version %d, want %d "+
			"(SkipMigrate is set; apply Migrations or call Migrate first): %w",
			n.migrations, current, latestVersion, ErrSchemaVersion)
	}
	return nil
}
