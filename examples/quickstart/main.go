// Command quickstart shows the library end to end on one machine, in a few
// seconds: it starts a local receiver, sends one production.completed and
// one production.failed webhook through a Dispatcher on an SQLite file,
// and prints what the receiver got. The receiver refuses the first try of
// the failed event, so its retry is pending when the Dispatcher stops; a
// new Dispatcher on the same file picks it up and delivers it.
//
//	go run ./examples/quickstart                 # SQLite file in a temp dir
//	go run ./examples/quickstart -db hooks.db    # a file you name
//	go run ./examples/quickstart -store memory   # no file at all
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
	"github.com/stratakit/webhook/webhooktest"
)

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	storeKind := flags.String("store", "sqlite", "where deliveries are kept: sqlite or memory")
	dbPath := flags.String("db", "", "SQLite file (default: quickstart.db in a new temp dir)")
	verbose := flags.Bool("v", false, "print the Dispatcher's log lines")
	if err := flags.Parse(args); err != nil {
		return err
	}

	// The customer's endpoint, on loopback: it answers 503 to the first try
	// of the failed event and 200 to everything else. webhooktest's
	// Receiver records header names as they were spelled on the wire.
	var local webhooktest.Standalone
	defer local.Close()
	recv := webhooktest.NewReceiver(&local)
	recv.Respond(func(r webhooktest.Request) webhooktest.Response {
		if r.Header.Get(webhook.HeaderDelivery) == "1" &&
			strings.Contains(string(r.Body), `"production.failed"`) {
			return webhooktest.Text(http.StatusServiceUnavailable, "busy, try again")
		}
		return webhooktest.Status(http.StatusOK)
	})

	// A signing secret: receivers verify webhook-signature with it.
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	openStore, removeStore, err := storeOpener(*storeKind, *dbPath)
	if err != nil {
		return err
	}
	defer removeStore()
	cfg := webhook.Config{
		Logger:         logger,
		SigningSecrets: []string{secret},
		// The receiver is a local plain-http server: allow exactly that.
		// In production leave both unset: https only, public addresses only.
		AllowHTTP: true,
		Allow:     []string{"127.0.0.1", "::1"},
	}

	// First run: send both events. The completed one is delivered; the
	// failed one is refused once and its retry, due in 1 s, is pending when
	// the Dispatcher stops.
	ctx := context.Background()
	store, closeStore, err := openStore()
	if err != nil {
		return err
	}
	var seen webhooktest.Outcomes
	first, err := start(cfg, store, &seen)
	if err != nil {
		return err
	}
	done, err := webhook.Completed("550e8400-e29b-41d4-a716-446655440000",
		"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Signature=abc&X-Amz-Expires=3600",
		time.Now())
	if err != nil {
		return err
	}
	failed, err := webhook.Failed("7c9e6679-7425-40de-944b-e07fc1f90ae7",
		"Invalid video format: unsupported codec", time.Now())
	if err != nil {
		return err
	}
	doneID, err := first.Send(ctx, recv.URL()+"/webhooks/stratakit", done)
	if err != nil {
		return err
	}
	failedID, err := first.Send(ctx, recv.URL()+"/webhooks/stratakit", failed)
	if err != nil {
		return err
	}
	seen.Wait(&local, 2)
	if err := first.Stop(ctx); err != nil {
		return err
	}
	pending, err := store.Get(ctx, failedID)
	if err != nil {
		return err
	}
	fmt.Printf("stopped; %s is %s, attempt 2 due at %s\n",
		failedID, pending.Status, pending.NextAttemptAt.Format("15:04:05.000"))
	if err := closeStore(); err != nil {
		return err
	}

	// Restart: a new store on the same file and a new Dispatcher resume the
	// pending retry at its stored due time.
	store, closeStore, err = openStore()
	if err != nil {
		return err
	}
	defer closeStore()
	var resumed webhooktest.Outcomes
	second, err := start(cfg, store, &resumed)
	if err != nil {
		return err
	}
	resumed.WaitFinal(&local, failedID)
	if err := second.Stop(ctx); err != nil {
		return err
	}

	fmt.Println("\n== what the receiver got")
	for _, r := range recv.Requests() {
		fmt.Printf("\n-- request %d: %s %s\n", r.N, r.Method, r.Target)
		for _, h := range r.RawHeader {
			fmt.Printf("%s: %s\n", h.Name, h.Value)
		}
		fmt.Printf("\n%s\n", r.Body)
	}
	fmt.Println("\n== final state")
	for _, id := range []string{doneID, failedID} {
		if err := printDelivery(ctx, store, id); err != nil {
			return err
		}
	}
	return nil
}

// storeOpener returns a function that opens the chosen store, and the same
// one again after the restart, and one that removes a file it made up.
func storeOpener(kind, path string) (func() (webhook.Store, func() error, error), func(), error) {
	remove := func() {}
	switch kind {
	case "memory":
		mem := webhook.NewMemoryStore() // survives the restart in this process only
		return func() (webhook.Store, func() error, error) {
			return mem, func() error { return nil }, nil
		}, remove, nil
	case "sqlite":
		if path == "" {
			dir, err := os.MkdirTemp("", "webhook-quickstart-")
			if err != nil {
				return nil, nil, err
			}
			path = filepath.Join(dir, "quickstart.db")
			remove = func() { os.RemoveAll(dir) }
		}
		fmt.Println("deliveries are kept in", path)
		return func() (webhook.Store, func() error, error) {
			s, err := sqlitestore.Open(path)
			if err != nil {
				return nil, nil, err
			}
			return s, s.Close, nil
		}, remove, nil
	default:
		return nil, nil, fmt.Errorf("-store %q: want sqlite or memory", kind)
	}
}

// start builds and starts a Dispatcher that reports each outcome to seen.
func start(cfg webhook.Config, store webhook.Store,
	seen *webhooktest.Outcomes) (*webhook.Dispatcher, error) {
	cfg.Store = store
	cfg.OnAttempt = seen.Observe
	d, err := webhook.New(cfg)
	if err != nil {
		return nil, err
	}
	return d, d.Start()
}

func printDelivery(ctx context.Context, store webhook.Store, id string) error {
	d, err := store.Get(ctx, id)
	if err != nil {
		return err
	}
	attempts := "attempts"
	if d.Attempts == 1 {
		attempts = "attempt"
	}
	fmt.Printf("\n%s %s (%s): %s after %d %s\n",
		d.ID, d.EventType, d.ProductionID, d.Status, d.Attempts, attempts)
	log, err := store.Attempts(ctx, id)
	if err != nil {
		return err
	}
	for _, a := range log {
		outcome := fmt.Sprintf("%d %s", a.StatusCode, http.StatusText(a.StatusCode))
		if a.Error != "" {
			outcome = a.Error
		}
		fmt.Printf("  attempt %d at %s: %s\n", a.Number, a.StartedAt.Format("15:04:05.000"), outcome)
	}
	return nil
}
