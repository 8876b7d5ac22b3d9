package sqlitestore_test

// The child process of TestCrashRecovery: a sender on real time with a
// compressed schedule, which the parent kills with SIGKILL and restarts.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
)

// The environment of a child, set by the parent.
const (
	envCrashChild = "WEBHOOK_CRASH_CHILD" // "1" in a child process
	envCrashDB    = "WEBHOOK_CRASH_DB"    // the SQLite file
	envCrashURL   = "WEBHOOK_CRASH_URL"   // the receiver's webhook URL
	envCrashSend  = "WEBHOOK_CRASH_SEND"  // production IDs to send, comma-separated
)

// The lines a child writes on stdout.
const (
	// lineSent is followed by a production ID and its delivery ID, written
	// once Send has returned nil.
	lineSent = "crashchild: sent "
	// lineIdle is written once no delivery in the file is pending.
	lineIdle = "crashchild: idle"
)

// The child's timing: a schedule compressed from minutes to milliseconds,
// so that a round takes a second or so.
var crashSchedule = webhook.Delays(20*time.Millisecond, 50*time.Millisecond,
	100*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond)

const (
	crashMaxAttempts    = 6
	crashAttemptTimeout = 500 * time.Millisecond
	crashBodyTimeout    = 100 * time.Millisecond
	crashLease          = time.Second
)

// TestCrashChild is not a test of its own: TestCrashRecovery runs the test
// binary again with -test.run=^TestCrashChild$ and envCrashChild set, and
// this function is then the child's whole life. Run any other way, it
// returns at once.
//
// The child opens the file, starts a Dispatcher on real time, sends the
// productions listed in envCrashSend one by one, writing lineSent after
// each Send that returned nil, and keeps delivering. It writes lineIdle
// when nothing is pending, and stops gracefully when its stdin closes.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		return
	}
	store, err := sqlitestore.Open(os.Getenv(envCrashDB))
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()

	logger := slog.New(slog.NewTextHandler(os.Stderr,
		&slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := webhook.New(webhook.Config{
		Store:          store,
		Logger:         logger,
		Schedule:       crashSchedule,
		AttemptTimeout: crashAttemptTimeout,
		BodyTimeout:    crashBodyTimeout,
		Lease:          crashLease,
		Retention:      -1,
		AllowHTTP:      true,
		Allow:          []string{"127.0.0.0/8"},
	})
	require.NoError(t, err)
	require.NoError(t, d.Start())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Stop(ctx))
	}()

	// The end comes with SIGKILL, or with stdin closing for the last child.
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()

	ctx := context.Background()
	url := os.Getenv(envCrashURL)
	for _, p := range strings.FieldsFunc(os.Getenv(envCrashSend), isComma) {
		e, err := webhook.Completed(p, "https://assets.stratakit.io/v/"+p+".mp4",
			time.Date(2026, 1, 15, 10, 29, 58, 0, time.UTC))
		require.NoError(t, err)
		// The key makes a Send repeated after a crash return the delivery
		// that the dead process had stored, if it had.
		id, err := d.Send(ctx, url, e, webhook.WithIdempotencyKey(p))
		require.NoError(t, err)
		_, err = fmt.Fprintf(os.Stdout, "%s%s %s\n", lineSent, p, id)
		require.NoError(t, err)
	}

	// Real time is this child's own: it looks for the end of the work a
	// few hundred times a second.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	idle := false
	for {
		select {
		case <-stdinClosed:
			return
		case <-tick.C:
		}
		if idle {
			continue
		}
		pending, err := store.List(ctx, webhook.Filter{Status: webhook.StatusPending, Limit: 1})
		require.NoError(t, err)
		if len(pending) == 0 {
			idle = true
			_, err = fmt.Fprintln(os.Stdout, lineIdle)
			require.NoError(t, err)
		}
	}
}

func isComma(r rune) bool { return r == ',' }
