package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
)

func TestOptionsInvalid(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts  pgstore.Options
		field string
	}{
		"schema with capitals": {opts: pgstore.Options{Schema: "Hooks"}, field: "Schema"},
		"schema with a quote":  {opts: pgstore.Options{Schema: `a"b`}, field: "Schema"},
		"schema too long": {opts: pgstore.Options{Schema: strings.Repeat("s", 64)},
			field: "Schema"},
		"prefix with a dash":  {opts: pgstore.Options{TablePrefix: "web-"}, field: "TablePrefix"},
		"prefix with a digit": {opts: pgstore.Options{TablePrefix: "1_"}, field: "TablePrefix"},
		"prefix too long": {opts: pgstore.Options{TablePrefix: strings.Repeat("p", 50)},
			field: "TablePrefix"},
		"channel too long": {opts: pgstore.Options{NotifyChannel: strings.Repeat("c", 64)},
			field: "NotifyChannel"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := pgstore.Migrations(c.opts)
			require.ErrorIs(t, err, webhook.ErrInvalidConfig)
			require.ErrorContains(t, err, "Options."+c.field)
		})
	}

	t.Run("nil pool", func(t *testing.T) {
		_, err := pgstore.Open(context.Background(), nil, pgstore.Options{})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	})
}

func TestMigrationsNames(t *testing.T) {
	t.Parallel()
	ms, err := pgstore.Migrations(pgstore.Options{})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, 1, ms[0].Version)
	require.Contains(t, ms[0].SQL, `CREATE TABLE "public"."webhook_deliveries"`)
	require.NotContains(t, ms[0].SQL, "CREATE SCHEMA")
	require.NotContains(t, ms[0].SQL, "{")

	ms, err = pgstore.Migrations(pgstore.Options{Schema: "hooks", TablePrefix: "wh_"})
	require.NoError(t, err)
	require.Contains(t, ms[0].SQL, `CREATE SCHEMA IF NOT EXISTS "hooks"`)
	require.Contains(t, ms[0].SQL, `CREATE TABLE "hooks"."wh_attempts"`)
	require.Contains(t, ms[0].SQL, `INSERT INTO "hooks"."wh_schema_migrations" (version)`)
}

// Several instances starting at once each migrate: the advisory lock lets
// one apply every version and the others find nothing to do.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	pool := testPool(t, 10)
	o := pgstore.Options{Schema: testSchema(t, pool), TablePrefix: "race_"}

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = pgstore.Migrate(context.Background(), pool, o)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "migration %d", i)
	}

	rows, err := pool.Query(context.Background(), "SELECT version FROM "+
		pgx.Identifier{o.Schema, "race_schema_migrations"}.Sanitize()+" ORDER BY version")
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Equal(t, []int{1}, versions)

	// Opening on migrated tables, migration on or off, works.
	openStore(t, pool, o)
	o.SkipMigrate = true
	openStore(t, pool, o)
}

// Teams that run migrations with their own tool apply the statements of
// Migrations and open with SkipMigrate.
func TestMigrationsByHand(t *testing.T) {
	t.Parallel()
	pool := testPool(t, 4)
	ctx := context.Background()
	o := pgstore.Options{Schema: testSchema(t, pool), SkipMigrate: true}

	// Before anything is applied, Open says so.
	_, err := pgstore.Open(ctx, pool, o)
	require.ErrorContains(t, err, "SkipMigrate")

	// An empty version table is too old.
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{o.Schema}.Sanitize()+
		"; CREATE TABLE "+pgx.Identifier{o.Schema, "webhook_schema_migrations"}.Sanitize()+
		" (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
	require.NoError(t, err)
	_, err = pgstore.Open(ctx, pool, o)
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)

	ms, err := pgstore.Migrations(o)
	require.NoError(t, err)
	for _, m := range ms {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, m.SQL)
			return err
		}))
	}
	s := openStore(t, pool, o)
	_, err = s.Insert(ctx, newDelivery(1, t0))
	require.NoError(t, err)

	// Migrate after a hand-applied migration finds nothing to do.
	require.NoError(t, pgstore.Migrate(ctx, pool, o))
}
