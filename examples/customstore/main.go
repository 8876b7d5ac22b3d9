// Command customstore shows how to wrap a Store: countingStore adds
// metrics (calls and errors by method, and how long they take) around any
// webhook.Store, here the SQLite one, and a Dispatcher runs on the
// wrapper. main_test.go runs the storetest conformance suite on the
// wrapper, which is how a wrapped or hand-written store proves it keeps
// the Store contract.
//
//	go run ./examples/customstore
//	go test ./examples/customstore
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
	"github.com/stratakit/webhook/webhooktest"
)

// countingStore is a webhook.Store that counts the calls, errors and time
// of the Store it wraps. Every method passes its arguments on unchanged, so
// the wrapper keeps the wrapped store's contract; the conformance suite
// checks that it does.
type countingStore struct {
	next webhook.Store

	mu    sync.Mutex
	calls map[string]*stat
}

type stat struct {
	calls, errors int
	total         time.Duration
}

func newCountingStore(next webhook.Store) *countingStore {
	return &countingStore{next: next, calls: map[string]*stat{}}
}

// observe records one call of method that started at start.
func (s *countingStore) observe(method string, start time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.calls[method]
	if st == nil {
		st = &stat{}
		s.calls[method] = st
	}
	st.calls++
	st.total += time.Since(start)
	if err != nil {
		st.errors++
	}
}

// Report returns one line per method called: calls, errors, mean time.
func (s *countingStore) Report() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for method, st := range s.calls {
		lines = append(lines, fmt.Sprintf("%-8s calls=%-3d errors=%d mean=%v", method,
			st.calls, st.errors, (st.total/time.Duration(st.calls)).Round(time.Microsecond)))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (s *countingStore) Insert(ctx context.Context, d webhook.Delivery) (id string, err error) {
	defer func(start time.Time) { s.observe("Insert", start, err) }(time.Now())
	return s.next.Insert(ctx, d)
}

func (s *countingStore) Get(ctx context.Context, id string) (d webhook.Delivery, err error) {
	defer func(start time.Time) { s.observe("Get", start, err) }(time.Now())
	return s.next.Get(ctx, id)
}

func (s *countingStore) Attempts(ctx context.Context, id string) (a []webhook.Attempt, err error) {
	defer func(start time.Time) { s.observe("Attempts", start, err) }(time.Now())
	return s.next.Attempts(ctx, id)
}

func (s *countingStore) List(ctx context.Context,
	f webhook.Filter) (ds []webhook.Delivery, err error) {
	defer func(start time.Time) { s.observe("List", start, err) }(time.Now())
	return s.next.List(ctx, f)
}

func (s *countingStore) Claim(ctx context.Context, now time.Time,
	r webhook.ClaimRequest) (cs []webhook.Claim, err error) {
	defer func(start time.Time) { s.observe("Claim", start, err) }(time.Now())
	return s.next.Claim(ctx, now, r)
}

func (s *countingStore) Extend(ctx context.Context, id, token string, until time.Time) (err error) {
	defer func(start time.Time) { s.observe("Extend", start, err) }(time.Now())
	return s.next.Extend(ctx, id, token, until)
}

func (s *countingStore) Release(ctx context.Context, id, token string) (err error) {
	defer func(start time.Time) { s.observe("Release", start, err) }(time.Now())
	return s.next.Release(ctx, id, token)
}

func (s *countingStore) Record(ctx context.Context, id, token string,
	r webhook.Result) (err error) {
	defer func(start time.Time) { s.observe("Record", start, err) }(time.Now())
	return s.next.Record(ctx, id, token, r)
}

func (s *countingStore) NextDue(ctx context.Context,
	skipHosts []string) (at time.Time, ok bool, err error) {
	defer func(start time.Time) { s.observe("NextDue", start, err) }(time.Now())
	return s.next.NextDue(ctx, skipHosts)
}

func (s *countingStore) Purge(ctx context.Context, before time.Time) (n int, err error) {
	defer func(start time.Time) { s.observe("Purge", start, err) }(time.Now())
	return s.next.Purge(ctx, before)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "customstore:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "webhook-customstore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sqlite, err := sqlitestore.Open(filepath.Join(dir, "webhooks.db"))
	if err != nil {
		return err
	}
	defer sqlite.Close()
	store := newCountingStore(sqlite)

	var local webhooktest.Standalone
	defer local.Close()
	recv := webhooktest.NewReceiver(&local)
	recv.FailTimes(1)
	var outcomes webhooktest.Outcomes
	d, err := webhook.New(webhook.Config{
		Store:     store,
		OnAttempt: outcomes.Observe,
		Schedule:  webhook.Delays(100 * time.Millisecond), // two attempts, quickly
		AllowHTTP: true,                                   // the local receiver only
		Allow:     []string{"127.0.0.1", "::1"},
	})
	if err != nil {
		return err
	}
	if err := d.Start(); err != nil {
		return err
	}
	e, err := webhook.Completed("550e8400", "https://cdn.example/550e8400.mp4", time.Now())
	if err != nil {
		return err
	}
	id, err := d.Send(context.Background(), recv.URL()+"/hooks", e)
	if err != nil {
		return err
	}
	final := outcomes.WaitFinal(&local, id)
	if err := d.Stop(context.Background()); err != nil {
		return err
	}
	fmt.Printf("%s %s after %d attempts\n\nstore calls:\n%s\n",
		id, final.Delivery.Status, final.Delivery.Attempts, store.Report())
	return nil
}
