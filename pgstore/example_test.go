package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/pgstore"
)

// The statements of each schema version, for a migration tool.
func ExampleMigrations() {
	ms, err := pgstore.Migrations(pgstore.Options{Schema: "webhooks"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		first, _, _ := strings.Cut(m.SQL, "\n")
		fmt.Printf("version %d starts: %s\n", m.Version, first)
	}
	// Output:
	// version 1 starts: CREATE SCHEMA IF NOT EXISTS "webhooks";
}

// A webhook that exists if and only if the render result is committed.
func ExampleStore_InsertTx() {
	ctx := context.Background()
	var (
		pool       *pgxpool.Pool       // the service's pool
		store      *pgstore.Store      // pgstore.Open(ctx, pool, ...)
		dispatcher *webhook.Dispatcher // webhook.New(webhook.Config{Store: store})
	)
	e, err := webhook.Completed("550e8400-e29b-41d4-a716-446655440000",
		"https://cdn.example.com/v.mp4", time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE productions SET status = 'completed' WHERE id = $1`,
			e.ProductionID)
		if err != nil {
			return err
		}
		d, err := dispatcher.NewDelivery("https://customer.example.com/hooks", e,
			webhook.WithIdempotencyKey(e.ProductionID))
		if err != nil {
			return err // refused exactly as Send refuses it
		}
		_, err = store.InsertTx(ctx, tx, d)
		return err
	})
	if err != nil {
		fmt.Println(err)
	}
}
