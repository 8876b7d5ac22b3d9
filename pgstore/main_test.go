package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// envPostgres names the variable holding the test server's address.
const envPostgres = "WEBHOOK_TEST_POSTGRES"

// t0 is the tests' "now"; no test reads the real clock for store times.
var t0 = time.Date(2030, time.March, 4, 5, 6, 7, 0, time.UTC)

// testPool returns a pool on the test server, closed in a cleanup, and
// skips the test when the server's address is not given.
func testPool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(envPostgres)
	if url == "" {
		t.Skip(envPostgres + " is unset; run the Postgres tests with " + envPostgres +
			"='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' " +
			"go test ./pgstore/...")
	}
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// testSchema returns a fresh schema name for one test, whose schema is
// dropped with everything in it in a cleanup: go test runs packages in
// parallel processes, and tests in parallel goroutines, on one server.
func testSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	schema := "webhook_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+
			pgx.Identifier{schema}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	return schema
}

// openStore opens a store on pool with o, closed in a cleanup.
func openStore(t testing.TB, pool *pgxpool.Pool, o pgstore.Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pool, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// setup returns a store on a schema of its own.
func setup(t testing.TB) (*pgstore.Store, *pgxpool.Pool, pgstore.Options) {
	t.Helper()
	pool := testPool(t, 8)
	o := pgstore.Options{Schema: testSchema(t, pool)}
	return openStore(t, pool, o), pool, o
}

// newDelivery returns a pending delivery due at next, as the Dispatcher
// builds one.
func newDelivery(n int, next time.Time) webhook.Delivery {
	return webhook.Delivery{
		ID:            fmt.Sprintf("msg_pg_%05d", n),
		URL:           "https://hooks.example.com/in",
		Host:          "hooks.example.com:443",
		EventType:     webhook.ProductionCompleted,
		ProductionID:  fmt.Sprintf("prod-%05d", n),
		Body:          []byte(fmt.Sprintf(`{"n":%d}`, n)),
		Status:        webhook.StatusPending,
		NextAttemptAt: next,
		CreatedAt:     t0,
	}
}

// request returns a ClaimRequest for up to limit deliveries, with a one
// minute lease and six attempts.
func request(limit int, skip ...string) webhook.ClaimRequest {
	return webhook.ClaimRequest{Limit: limit, Lease: time.Minute, MaxAttempts: 6,
		SkipHosts: skip}
}

// waitWake waits for a wake-up on c, failing the test after a generous
// bound: a notice crosses the server in milliseconds.
func waitWake(t testing.TB, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatal("no wake-up within 30 s")
	}
}

// drain empties a wake channel.
func drain(c <-chan struct{}) {
	select {
	case <-c:
	default:
	}
}
