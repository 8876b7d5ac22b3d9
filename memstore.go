package webhook

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// defaultListLimit is what a zero Filter.Limit means.
const defaultListLimit = 100

// MemoryStore is a [Store] that keeps deliveries in the process's memory:
// for tests, and for services that accept losing pending webhooks when they
// stop. It implements the Store contract in full, leases and takeover
// included, so several Dispatchers in one process may share it.
//
// It is built to hold many pending deliveries: 100,000 waiting for a retry
// take about 100 MiB with bodies of a few hundred bytes (see the test
// TestMemoryStoreFootprint). Insert, Claim, Record, NextDue and Purge cost a
// logarithm of the number of deliveries, never a scan of them: pending
// deliveries sit in one min-heap per host, ordered by the time they become
// claimable, and the hosts in a min-heap of their earliest deliveries, so
// SkipHosts costs one step per skipped host. List scans the deliveries
// unless it filters by production.
//
// Every slice it returns is a copy, and it copies the slices it is given.
// The zero value is not usable; call [NewMemoryStore].
type MemoryStore struct {
	mu sync.Mutex

	deliveries   map[string]*memEntry    // by ID
	byKey        map[string]*memEntry    // by idempotency key
	byProduction map[string][]*memEntry  // by production ID
	hosts        map[string]*hostQueue   // hosts with pending deliveries
	due          indexedHeap[*hostQueue] // those hosts, earliest delivery first
	finished     indexedHeap[*memEntry]  // delivered and failed, oldest first
	seq          uint64                  // insertion counter, breaks ties
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		deliveries:   make(map[string]*memEntry),
		byKey:        make(map[string]*memEntry),
		byProduction: make(map[string][]*memEntry),
		hosts:        make(map[string]*hostQueue),
		due: indexedHeap[*hostQueue]{
			less:  func(a, b *hostQueue) bool { return a.items[0].before(b.items[0]) },
			place: func(q *hostQueue) *int { return &q.index },
		},
		finished: indexedHeap[*memEntry]{less: finishedBefore, place: entryPlace},
	}
}

var _ Store = (*MemoryStore)(nil)

// memEntry is one stored delivery with its log and claim.
type memEntry struct {
	d         Delivery
	attempts  []Attempt
	token     string    // the claim's token; empty when unclaimed
	claimedAt time.Time // when the current claim was made
	seq       uint64
	queue     *hostQueue // its host's queue while pending
	index     int        // its place in queue or in finished
}

// available returns when the entry can next be claimed: its due time, or
// its lease's end while claimed.
func (e *memEntry) available() time.Time {
	if e.token != "" {
		return e.d.LeaseUntil
	}
	return e.d.NextAttemptAt
}

// before orders entries by the time they become claimable, then by
// insertion.
func (e *memEntry) before(o *memEntry) bool {
	a, b := e.available(), o.available()
	if !a.Equal(b) {
		return a.Before(b)
	}
	return e.seq < o.seq
}

// delivery returns a copy of the entry's delivery that shares no memory
// with it.
func (e *memEntry) delivery() Delivery {
	d := e.d
	d.Body = bytes.Clone(e.d.Body)
	return d
}

// Insert implements [Store.Insert]. d.ID must be set and not yet stored;
// d is stored as pending and unclaimed, its other fields as given.
func (s *MemoryStore) Insert(ctx context.Context, d Delivery) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("webhook: insert: %w", err)
	}
	if d.ID == "" {
		return "", errors.New("webhook: insert: ID: empty")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if d.IdempotencyKey != "" {
		if e, ok := s.byKey[d.IdempotencyKey]; ok {
			return e.d.ID, nil
		}
	}
	if _, ok := s.deliveries[d.ID]; ok {
		return "", fmt.Errorf("webhook: insert: ID: %q is already stored", d.ID)
	}

	d.Body = bytes.Clone(d.Body)
	d.Status = StatusPending
	d.LeaseUntil = time.Time{}
	d.FinishedAt = time.Time{}
	d.NextAttemptAt = d.NextAttemptAt.Round(0)
	d.CreatedAt = d.CreatedAt.Round(0)
	s.seq++
	e := &memEntry{d: d, seq: s.seq, index: -1}
	s.deliveries[d.ID] = e
	if d.IdempotencyKey != "" {
		s.byKey[d.IdempotencyKey] = e
	}
	s.byProduction[d.ProductionID] = append(s.byProduction[d.ProductionID], e)
	s.enqueue(e)
	return d.ID, nil
}

// Get implements [Store.Get].
func (s *MemoryStore) Get(ctx context.Context, id string) (Delivery, error) {
	if err := ctx.Err(); err != nil {
		return Delivery{}, fmt.Errorf("webhook: get: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.deliveries[id]
	if !ok {
		return Delivery{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return e.delivery(), nil
}

// Attempts implements [Store.Attempts].
func (s *MemoryStore) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("webhook: attempts: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.deliveries[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	out := make([]Attempt, len(e.attempts))
	for i, a := range e.attempts {
		a.ResponseBody = bytes.Clone(a.ResponseBody)
		out[i] = a
	}
	return out, nil
}

// List implements [Store.List]. Filtered by production it looks only at
// that production's deliveries; otherwise it scans them all, keeping the
// oldest Limit in a bounded heap.
func (s *MemoryStore) List(ctx context.Context, f Filter) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("webhook: list: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest listHeap
	consider := func(e *memEntry) {
		if f.Status != "" && e.d.Status != f.Status {
			return
		}
		if f.ProductionID != "" && e.d.ProductionID != f.ProductionID {
			return
		}
		if len(oldest) < limit {
			heap.Push(&oldest, e)
		} else if listBefore(e, oldest[0]) {
			oldest[0] = e
			heap.Fix(&oldest, 0)
		}
	}
	if f.ProductionID != "" {
		for _, e := range s.byProduction[f.ProductionID] {
			consider(e)
		}
	} else {
		for _, e := range s.deliveries {
			consider(e)
		}
	}

	slices.SortFunc(oldest, func(a, b *memEntry) int {
		if listBefore(a, b) {
			return -1
		}
		return 1
	})
	out := make([]Delivery, len(oldest))
	for i, e := range oldest {
		out[i] = e.delivery()
	}
	return out, nil
}

// Claim implements [Store.Claim]. r.Limit and r.Lease must be positive; a
// MaxAttempts of zero or less puts no bound on takeovers.
//
// An interrupted attempt is logged with StartedAt at its claim, Duration up
// to its lease's end, and Error saying it was interrupted.
func (s *MemoryStore) Claim(ctx context.Context, now time.Time, r ClaimRequest) ([]Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("webhook: claim: %w", err)
	}
	if r.Limit < 1 {
		return nil, fmt.Errorf("webhook: claim: Limit: %d is below 1", r.Limit)
	}
	if r.Lease <= 0 {
		return nil, fmt.Errorf("webhook: claim: Lease: %v is not positive", r.Lease)
	}
	now = now.Round(0)

	s.mu.Lock()
	defer s.mu.Unlock()
	skip := hostSet(r.SkipHosts)

	// Take hosts off the top of the heap while they are skipped, and
	// deliveries off the top host while they are due.
	var skipped []*hostQueue
	claims := []Claim{}
	taken := map[string]int{}
	for len(claims) < r.Limit && s.due.Len() > 0 {
		q := s.due.items[0]
		if n, capped := r.HostCap(q.host); skip[q.host] || capped && taken[q.host] >= n {
			heap.Pop(&s.due)
			skipped = append(skipped, q)
			continue
		}
		e := q.items[0]
		if e.available().After(now) {
			break
		}

		if e.token != "" {
			s.interrupt(e)
			if r.MaxAttempts > 0 && e.d.Attempts >= r.MaxAttempts {
				e.d.LastError = LastInterruptedError
				s.finish(e, StatusFailed, now)
				continue
			}
		}
		e.d.Attempts++
		e.d.LeaseUntil = now.Add(r.Lease)
		e.token = rand.Text()
		e.claimedAt = now
		s.requeue(e)
		taken[q.host]++
		claims = append(claims, Claim{Delivery: e.delivery(), Token: e.token})
	}
	for _, q := range skipped {
		heap.Push(&s.due, q)
	}
	return claims, nil
}

// interrupt logs e's claimed attempt as interrupted and drops the claim,
// leaving e in its queue for the caller to requeue or finish.
func (s *MemoryStore) interrupt(e *memEntry) {
	e.attempts = append(e.attempts, Attempt{
		Number:      e.d.Attempts,
		StartedAt:   e.claimedAt,
		Duration:    max(e.d.LeaseUntil.Sub(e.claimedAt), 0),
		Error:       InterruptedError,
		Interrupted: true,
	})
	e.d.LastError = InterruptedError
	e.d.LeaseUntil = time.Time{}
	e.token = ""
}

// Extend implements [Store.Extend].
func (s *MemoryStore) Extend(ctx context.Context, id, token string, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: extend: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.held(id, token)
	if err != nil {
		return err
	}
	e.d.LeaseUntil = until.Round(0)
	s.requeue(e)
	return nil
}

// Release implements [Store.Release].
func (s *MemoryStore) Release(ctx context.Context, id, token string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: release: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.held(id, token)
	if err != nil {
		return err
	}
	e.d.Attempts--
	e.d.LeaseUntil = time.Time{}
	e.token = ""
	s.requeue(e)
	return nil
}

// Record implements [Store.Record]. r.Status must be a valid Status and
// r.Attempt.Number the claimed attempt's number.
func (s *MemoryStore) Record(ctx context.Context, id, token string, r Result) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: record: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.held(id, token)
	if err != nil {
		return err
	}
	switch r.Status {
	case StatusPending, StatusDelivered, StatusFailed:
	default:
		return fmt.Errorf("webhook: record: Status: %q is not %q, %q or %q",
			r.Status, StatusPending, StatusDelivered, StatusFailed)
	}
	if r.Attempt.Number != e.d.Attempts {
		return fmt.Errorf("webhook: record: Attempt.Number: %d is not the claimed attempt %d",
			r.Attempt.Number, e.d.Attempts)
	}

	a := r.Attempt
	a.StartedAt = a.StartedAt.Round(0)
	a.ResponseBody = bytes.Clone(a.ResponseBody)
	e.attempts = append(e.attempts, a)
	e.d.LastError = r.LastError
	e.d.LeaseUntil = time.Time{}
	e.token = ""
	if r.Status == StatusPending {
		e.d.NextAttemptAt = r.NextAttemptAt.Round(0)
		s.requeue(e)
		return nil
	}
	s.finish(e, r.Status, r.FinishedAt)
	return nil
}

// held returns the entry that token holds, or an error wrapping
// ErrClaimLost (and ErrNotFound for an unknown ID).
func (s *MemoryStore) held(id, token string) (*memEntry, error) {
	e, ok := s.deliveries[id]
	if !ok {
		return nil, fmt.Errorf("%w: delivery %q: %w", ErrClaimLost, id, ErrNotFound)
	}
	if token == "" || e.token != token {
		return nil, fmt.Errorf("%w: delivery %q is not held by this token", ErrClaimLost, id)
	}
	return e, nil
}

// NextDue implements [Store.NextDue].
func (s *MemoryStore) NextDue(ctx context.Context, skipHosts []string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("webhook: next due: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	skip := hostSet(skipHosts)

	// Take skipped hosts off the top of the heap until another is on top.
	var skipped []*hostQueue
	for s.due.Len() > 0 && skip[s.due.items[0].host] {
		skipped = append(skipped, heap.Pop(&s.due).(*hostQueue))
	}
	var at time.Time
	ok := s.due.Len() > 0
	if ok {
		at = s.due.items[0].items[0].available()
	}
	for _, q := range skipped {
		heap.Push(&s.due, q)
	}
	return at, ok, nil
}

// hostSet returns hosts as a set, nil when empty.
func hostSet(hosts []string) map[string]bool {
	if len(hosts) == 0 {
		return nil
	}
	set := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		set[h] = true
	}
	return set
}

// Purge implements [Store.Purge].
func (s *MemoryStore) Purge(ctx context.Context, finishedBefore time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("webhook: purge: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for s.finished.Len() > 0 && s.finished.items[0].d.FinishedAt.Before(finishedBefore) {
		e := heap.Pop(&s.finished).(*memEntry)
		delete(s.deliveries, e.d.ID)
		if k := e.d.IdempotencyKey; k != "" && s.byKey[k] == e {
			delete(s.byKey, k)
		}
		s.dropProduction(e)
		n++
	}
	return n, nil
}

// dropProduction removes e from the production index.
func (s *MemoryStore) dropProduction(e *memEntry) {
	list := s.byProduction[e.d.ProductionID]
	i := slices.Index(list, e)
	if i < 0 {
		return
	}
	list[i] = list[len(list)-1]
	list[len(list)-1] = nil
	list = list[:len(list)-1]
	if len(list) == 0 {
		delete(s.byProduction, e.d.ProductionID)
		return
	}
	s.byProduction[e.d.ProductionID] = list
}

// finish moves e from its host's queue to the finished heap.
func (s *MemoryStore) finish(e *memEntry, status Status, at time.Time) {
	s.dequeue(e)
	e.d.Status = status
	e.d.FinishedAt = at.Round(0)
	e.d.LeaseUntil = time.Time{}
	e.token = ""
	heap.Push(&s.finished, e)
}

// enqueue adds a pending entry to its host's queue.
func (s *MemoryStore) enqueue(e *memEntry) {
	q, ok := s.hosts[e.d.Host]
	if !ok {
		q = &hostQueue{host: e.d.Host, index: -1,
			indexedHeap: indexedHeap[*memEntry]{less: (*memEntry).before, place: entryPlace}}
		s.hosts[e.d.Host] = q
	}
	e.d.Host = q.host // share one copy of the string
	e.queue = q
	heap.Push(q, e)
	s.fixHost(q)
}

// requeue restores the heaps after e's available time changed.
func (s *MemoryStore) requeue(e *memEntry) {
	heap.Fix(e.queue, e.index)
	s.fixHost(e.queue)
}

// dequeue takes e out of its host's queue.
func (s *MemoryStore) dequeue(e *memEntry) {
	q := e.queue
	heap.Remove(q, e.index)
	e.queue = nil
	s.fixHost(q)
}

// fixHost restores q's place in the heap of hosts after its earliest
// entry changed, dropping a host left with no pending delivery. Claim
// takes skipped hosts off the heap for its duration, but never touches
// their entries meanwhile, so a host found off the heap here is a new one.
func (s *MemoryStore) fixHost(q *hostQueue) {
	switch {
	case len(q.items) == 0:
		if q.index >= 0 {
			heap.Remove(&s.due, q.index)
		}
		delete(s.hosts, q.host)
	case q.index >= 0:
		heap.Fix(&s.due, q.index)
	default:
		heap.Push(&s.due, q)
	}
}

// hostQueue is a min-heap of one host's pending entries, by available
// time, and its place among the hosts.
type hostQueue struct {
	indexedHeap[*memEntry]
	host  string
	index int // place in MemoryStore.due, -1 when not there
}

// entryPlace is the place of an entry in its host's queue or among the
// finished.
func entryPlace(e *memEntry) *int { return &e.index }

// finishedBefore orders finished entries by FinishedAt, for Purge.
func finishedBefore(a, b *memEntry) bool {
	if !a.d.FinishedAt.Equal(b.d.FinishedAt) {
		return a.d.FinishedAt.Before(b.d.FinishedAt)
	}
	return a.seq < b.seq
}

// listBefore is List's order: oldest CreatedAt first, ties by ID.
func listBefore(a, b *memEntry) bool {
	if !a.d.CreatedAt.Equal(b.d.CreatedAt) {
		return a.d.CreatedAt.Before(b.d.CreatedAt)
	}
	return a.d.ID < b.d.ID
}

// listHeap is a max-heap in List's order: its root is the newest of the
// deliveries kept so far.
type listHeap []*memEntry

func (h listHeap) Len() int           { return len(h) }
func (h listHeap) Less(i, j int) bool { return listBefore(h[j], h[i]) }
func (h listHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *listHeap) Push(x any)        { *h = append(*h, x.(*memEntry)) }
func (h *listHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	*h = old[:n]
	return e
}
