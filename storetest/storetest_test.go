package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMemoryStorePasses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) webhook.Store { return webhook.NewMemoryStore() })
}

// brokenStores each wrap a MemoryStore with one breach of the contract.
var brokenStores = map[string]func(webhook.Store) webhook.Store{
	"ignoresContext":     func(s webhook.Store) webhook.Store { return ignoresContext{s} },
	"acceptsStaleTokens": func(s webhook.Store) webhook.Store { return newStaleTokens(s) },
	"dropsIdempotencyKey": func(s webhook.Store) webhook.Store {
		return dropsIdempotencyKey{s}
	},
	"ignoresSkipHosts": func(s webhook.Store) webhook.Store { return ignoresSkipHosts{s} },
	"listsNewestFirst": func(s webhook.Store) webhook.Store { return listsNewestFirst{s} },
	"purgesTooMuch":    func(s webhook.Store) webhook.Store { return purgesTooMuch{s} },
	"keepsMilliseconds": func(s webhook.Store) webhook.Store {
		return keepsMilliseconds{s}
	},
}

// failLine matches the child's report of a failed subtest.
var failLine = regexp.MustCompile(`--- FAIL: TestHelperBrokenStore/(\S+) `)

// TestSuiteCatchesBrokenStores runs the suite in a child process against
// each broken store and checks that the subtests of the breached clause
// fail.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	t.Parallel()
	tests := []struct {
		store string
		fails []string
	}{
		{store: "ignoresContext", fails: []string{"Context/Canceled", "Context/DeadlineExceeded"}},
		{store: "acceptsStaleTokens", fails: []string{"Lease/OldTokenRefused",
			"Lease/WrongTokenRefused", "Lease/Release"}},
		{store: "dropsIdempotencyKey", fails: []string{"Insert/RoundTrip",
			"Insert/IdempotencyKey", "Purge/FreesIdempotencyKey"}},
		{store: "ignoresSkipHosts", fails: []string{"Claim/SkipHosts"}},
		{store: "listsNewestFirst", fails: []string{"List/Order", "List/ByStatus",
			"List/DefaultLimit"}},
		{store: "purgesTooMuch", fails: []string{"Purge/FinishedBefore"}},
		{store: "keepsMilliseconds", fails: []string{"Insert/RoundTrip",
			"Record/AttemptLogKeepsEveryField"}},
	}
	require.Len(t, tests, len(brokenStores))
	for _, tt := range tests {
		t.Run(tt.store, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestHelperBrokenStore$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_BROKEN="+tt.store)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a store that %s", tt.store)
			require.NotContains(t, string(out), "panic:")
			var failed []string
			for _, m := range failLine.FindAllStringSubmatch(string(out), -1) {
				failed = append(failed, m[1])
			}
			require.Subset(t, failed, tt.fails, "the subtests that failed")
		})
	}
}

// TestHelperBrokenStore is the child process of TestSuiteCatchesBrokenStores:
// it runs the suite against the broken store named in STORETEST_BROKEN, and
// does nothing in a normal run (the helper-process pattern of os/exec's
// tests).
func TestHelperBrokenStore(t *testing.T) {
	name := os.Getenv("STORETEST_BROKEN")
	if name == "" {
		return
	}
	wrap, ok := brokenStores[name]
	if !ok {
		t.Fatalf("no broken store %q", name)
	}
	storetest.Run(t, func(*testing.T) webhook.Store { return wrap(webhook.NewMemoryStore()) })
}

// ignoresContext runs every call as if ctx were never done.
type ignoresContext struct{ webhook.Store }

func (s ignoresContext) Insert(_ context.Context, d webhook.Delivery) (string, error) {
	return s.Store.Insert(context.Background(), d)
}

func (s ignoresContext) Claim(_ context.Context, now time.Time,
	r webhook.ClaimRequest) ([]webhook.Claim, error) {
	return s.Store.Claim(context.Background(), now, r)
}

// staleTokens accepts any token, as a store would that checked only the ID.
type staleTokens struct {
	webhook.Store
	mu     sync.Mutex
	latest map[string]string
}

func newStaleTokens(s webhook.Store) *staleTokens {
	return &staleTokens{Store: s, latest: map[string]string{}}
}

func (s *staleTokens) Claim(ctx context.Context, now time.Time,
	r webhook.ClaimRequest) ([]webhook.Claim, error) {
	cs, err := s.Store.Claim(ctx, now, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		s.latest[c.Delivery.ID] = c.Token
	}
	return cs, err
}

func (s *staleTokens) token(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[id]
}

func (s *staleTokens) Record(ctx context.Context, id, _ string, r webhook.Result) error {
	return s.Store.Record(ctx, id, s.token(id), r)
}

func (s *staleTokens) Extend(ctx context.Context, id, _ string, until time.Time) error {
	return s.Store.Extend(ctx, id, s.token(id), until)
}

func (s *staleTokens) Release(ctx context.Context, id, _ string) error {
	return s.Store.Release(ctx, id, s.token(id))
}

// dropsIdempotencyKey forgets idempotency keys.
type dropsIdempotencyKey struct{ webhook.Store }

func (s dropsIdempotencyKey) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	d.IdempotencyKey = ""
	return s.Store.Insert(ctx, d)
}

// ignoresSkipHosts claims deliveries to hosts at their cap.
type ignoresSkipHosts struct{ webhook.Store }

func (s ignoresSkipHosts) Claim(ctx context.Context, now time.Time,
	r webhook.ClaimRequest) ([]webhook.Claim, error) {
	r.SkipHosts = nil
	return s.Store.Claim(ctx, now, r)
}

// listsNewestFirst lists in the wrong order.
type listsNewestFirst struct{ webhook.Store }

func (s listsNewestFirst) List(ctx context.Context, f webhook.Filter) ([]webhook.Delivery, error) {
	limit := f.Limit
	f.Limit = 1 << 20
	ds, err := s.Store.List(ctx, f)
	slices.Reverse(ds)
	if limit == 0 {
		limit = 100
	}
	return ds[:min(limit, len(ds))], err
}

// purgesTooMuch purges every finished delivery, whatever the cutoff.
type purgesTooMuch struct{ webhook.Store }

func (s purgesTooMuch) Purge(ctx context.Context, _ time.Time) (int, error) {
	return s.Store.Purge(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
}

// keepsMilliseconds stores times at millisecond precision only.
type keepsMilliseconds struct{ webhook.Store }

func (s keepsMilliseconds) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	d.NextAttemptAt = d.NextAttemptAt.Truncate(time.Millisecond)
	d.CreatedAt = d.CreatedAt.Truncate(time.Millisecond)
	return s.Store.Insert(ctx, d)
}

func (s keepsMilliseconds) Record(ctx context.Context, id, token string,
	r webhook.Result) error {
	r.Attempt.StartedAt = r.Attempt.StartedAt.Truncate(time.Millisecond)
	r.Attempt.Duration = r.Attempt.Duration.Truncate(time.Millisecond)
	return s.Store.Record(ctx, id, token, r)
}
