// Command renderservice is a sketch of a render service that embeds the
// Dispatcher: when a render finishes or fails, it sends the webhook to the
// URL the customer gave with the production. It keeps deliveries in an
// SQLite file, so a restart loses none, and on SIGTERM or SIGINT it stops
// gracefully within a budget well inside a typical 30 s termination grace
// period, then hard.
//
//	go run ./examples/renderservice -listen 127.0.0.1:8080 -db render.db
//
// Report a finished render (the service would do this itself):
//
//	curl -X POST 'localhost:8080/renders/550e8400/done' \
//	  -d webhook_url=https://customer.example/hooks -d output_url=https://cdn.example/v.mp4
//	curl -X POST 'localhost:8080/renders/550e8400/failed' \
//	  -d webhook_url=https://customer.example/hooks -d error='unsupported codec'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
)

// stopBudget bounds the graceful stop: attempts in flight get this long to
// finish before they are cancelled. Kubernetes' default grace is 30 s.
const stopBudget = 20 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], logger, nil); err != nil {
		logger.Error("renderservice", slog.String("error", err.Error()))
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down. ready, if not nil,
// receives the address the service listens on.
func run(ctx context.Context, args []string, logger *slog.Logger, ready chan<- string) error {
	flags := flag.NewFlagSet("renderservice", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:8080", "address of the service's API")
	dbPath := flags.String("db", "renderservice.db", "SQLite file that keeps deliveries")
	secret := flags.String("secret", os.Getenv("WEBHOOK_SECRET"),
		"signing secret (whsec_...); default $WEBHOOK_SECRET; empty sends unsigned")
	allowLocal := flags.Bool("allow-local", false,
		"allow http:// and loopback webhook URLs, for local development only")
	if err := flags.Parse(args); err != nil {
		return err
	}

	store, err := sqlitestore.Open(*dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := webhook.Config{Store: store, Logger: logger}
	if *secret != "" {
		cfg.SigningSecrets = []string{*secret}
	}
	if *allowLocal {
		cfg.AllowHTTP = true
		cfg.Allow = []string{"127.0.0.0/8", "::1", "localhost"}
	}
	dispatcher, err := webhook.New(cfg)
	if err != nil {
		return err
	}
	if err := dispatcher.Start(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: routes(dispatcher), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("renderservice listening", slog.String("addr", ln.Addr().String()))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}

	// Shut down: stop taking renders, then stop the Dispatcher gracefully
	// (pending retries stay in the file for the next start), then hard.
	logger.Info("renderservice stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("api shutdown", slog.String("error", err.Error()))
	}
	if err := dispatcher.Stop(shutdownCtx); err != nil {
		logger.Warn("graceful stop ran out of time; cancelling attempts in flight")
		hardCtx, cancelHard := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancelHard()
		if err := dispatcher.StopAndCancel(hardCtx); err != nil {
			return err
		}
	}
	logger.Info("renderservice stopped")
	return nil
}

// routes is the service's API: a render reports its end, and the
// webhook goes out.
func routes(d *webhook.Dispatcher) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /renders/{id}/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		var (
			e   webhook.Event
			err error
		)
		id := r.PathValue("id")
		switch r.PathValue("outcome") {
		case "done":
			e, err = webhook.Completed(id, r.FormValue("output_url"), time.Now())
		case "failed":
			e, err = webhook.Failed(id, r.FormValue("error"), time.Now())
		default:
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// One webhook per production and outcome, however often the render
		// job reports it.
		key := webhook.WithIdempotencyKey(id + "/" + r.PathValue("outcome"))
		deliveryID, err := d.Send(r.Context(), r.FormValue("webhook_url"), e, key)
		switch {
		case errors.Is(err, webhook.ErrInvalidURL), errors.Is(err, webhook.ErrInvalidEvent):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, "could not queue the webhook", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, deliveryID)
		}
	})
	mux.HandleFunc("GET /deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		del, err := d.Delivery(r.Context(), r.PathValue("id"))
		if errors.Is(err, webhook.ErrNotFound) {
			http.NotFound(w, r)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %s attempts=%d\n", del.ID, del.Status, del.Attempts)
	})
	return mux
}
