package webhook

import (
	"context"
	"strings"
	"time"
)

// Status is where a delivery stands.
type Status string

// Delivery states. A delivery starts pending and ends delivered or failed;
// a finished delivery is never attempted again.
const (
	// StatusPending: waiting for its next attempt, or being attempted.
	StatusPending Status = "pending"
	// StatusDelivered: an attempt got a 2xx reply.
	StatusDelivered Status = "delivered"
	// StatusFailed: no attempt is left, or the URL was refused for good.
	StatusFailed Status = "failed"
)

// Delivery is one webhook event to one URL, with everything needed to
// attempt it again after a restart. The Dispatcher builds it in
// [Dispatcher.NewDelivery] and a Store keeps it.
type Delivery struct {
	// ID identifies the delivery; it is sent as webhook-id on every
	// attempt, for receivers to deduplicate.
	ID string
	// IdempotencyKey, when set, is unique among the deliveries of a Store:
	// inserting a second delivery with the same key returns the first one's
	// ID.
	IdempotencyKey string
	// URL is the customer's webhook URL.
	URL string
	// Host is the URL's lowercased host and port ("example.com:443"), the
	// key of the per-host concurrency cap.
	Host string
	// EventType and ProductionID are copied from the event.
	EventType    EventType
	ProductionID string
	// Body is the exact request body, identical on every attempt.
	Body []byte
	// SecretKey names the signing secrets to look up at each attempt; empty
	// for the Dispatcher's default. The secrets themselves are never stored.
	SecretKey string

	// Status is the delivery's state.
	Status Status
	// Attempts is how many attempts have been made or started, interrupted
	// ones included. While a delivery is claimed it counts the claimed
	// attempt, so it is also that attempt's number.
	Attempts int
	// NextAttemptAt is when the next attempt is due; meaningful while
	// pending.
	NextAttemptAt time.Time
	// LeaseUntil is when the current claim expires; zero when unclaimed.
	LeaseUntil time.Time
	// LastError is the last failed attempt's error. Once the delivery has
	// failed it starts with the reason (ReasonExhausted: ..., ReasonRefused:
	// ...); see Err.
	LastError string
	// CreatedAt is when the delivery was stored; FinishedAt when it was
	// delivered or failed (zero while pending).
	CreatedAt  time.Time
	FinishedAt time.Time
}

// Err returns a [*DeliveryError] for a failed delivery and nil otherwise.
func (d Delivery) Err() error {
	if d.Status != StatusFailed {
		return nil
	}
	e := &DeliveryError{DeliveryID: d.ID, Attempts: d.Attempts,
		Reason: ReasonUnknown, LastError: d.LastError}
	for _, reason := range []string{ReasonExhausted, ReasonRefused} {
		if rest, ok := strings.CutPrefix(d.LastError, reason+": "); ok {
			e.Reason, e.LastError = reason, rest
			return e
		}
	}
	if d.LastError == LastInterruptedError {
		e.Reason = ReasonInterrupted
	}
	return e
}

// Attempt is one entry of a delivery's attempt log.
type Attempt struct {
	// Number is the attempt's number, sent as X-StrataKit-Delivery.
	Number int
	// StartedAt is when the attempt started, on the Dispatcher's clock.
	StartedAt time.Time
	// Duration is how long it took until the outcome was known.
	Duration time.Duration
	// StatusCode is the reply's status, 0 if none came.
	StatusCode int
	// ResponseBody holds the first bytes of the reply's body, at most
	// [MaxResponseSnippet].
	ResponseBody []byte
	// Error describes the failure, empty on success. It never holds a
	// secret; query strings in URLs are redacted.
	Error string
	// Interrupted is true for an attempt whose process stopped or lost its
	// claim before recording an outcome. It counts as made.
	Interrupted bool
}

// Texts a Store writes when it takes over an expired claim, so that every
// store tells the same story: the Error of the interrupted attempt's log
// entry (also the delivery's LastError), and the LastError of a delivery
// failed because the interrupted attempt was its last.
const (
	InterruptedError     = "interrupted: the claim expired before an outcome was recorded"
	LastInterruptedError = "the last attempt was interrupted: its claim expired " +
		"before an outcome was recorded"
)

// MaxResponseSnippet is how much of a reply's body the attempt log keeps.
const MaxResponseSnippet = 4 << 10

// Claim is a delivery handed to one dispatcher for one attempt.
type Claim struct {
	// Delivery is the claimed delivery; its Attempts field already counts
	// the claimed attempt and is that attempt's number.
	Delivery Delivery
	// Token proves the claim in Extend, Release and Record. A new claim on
	// the same delivery gets a new token.
	Token string
}

// ClaimRequest says what a dispatcher is ready to take.
type ClaimRequest struct {
	// Limit is the most deliveries to claim; at least 1.
	Limit int
	// Lease is how long a claim holds before another dispatcher may take
	// the delivery over.
	Lease time.Duration
	// MaxAttempts is the schedule's number of attempts. A delivery whose
	// expired claim is taken over after it had used its last attempt is
	// finished as failed instead of being claimed.
	MaxAttempts int
	// SkipHosts lists hosts (as in Delivery.Host) at their concurrency cap:
	// their deliveries are left unclaimed.
	SkipHosts []string
	// PerHost, if positive, caps how many deliveries of any one host this
	// claim returns, and HostSlots overrides it for the hosts it names:
	// the claimer's free slots for hosts it already has attempts in flight
	// to. So a batch never holds more for a host than the claimer may
	// start. Zero means no per-host cap.
	PerHost   int
	HostSlots map[string]int
}

// HostCap returns how many deliveries of host the claim may return, and
// false when there is no cap: HostSlots[host] if set, PerHost otherwise.
func (r ClaimRequest) HostCap(host string) (int, bool) {
	if r.PerHost <= 0 {
		return 0, false
	}
	if n, ok := r.HostSlots[host]; ok {
		return max(n, 0), true
	}
	return r.PerHost, true
}

// Result is the outcome of one attempt, recorded with Store.Record.
type Result struct {
	// Attempt is the attempt's log entry; its Number is the claimed one.
	Attempt Attempt
	// Status is the delivery's new state: StatusPending for a retry,
	// StatusDelivered or StatusFailed when finished.
	Status Status
	// NextAttemptAt is the retry's due time when Status is pending.
	NextAttemptAt time.Time
	// FinishedAt is the time of a final status.
	FinishedAt time.Time
	// LastError is stored as Delivery.LastError.
	LastError string
}

// Filter selects deliveries for Store.List. Zero fields match everything.
type Filter struct {
	// Status, if set, keeps deliveries in that state.
	Status Status
	// ProductionID, if set, keeps deliveries for that production.
	ProductionID string
	// Limit caps the number returned; zero means 100.
	Limit int
}

// Store keeps deliveries and their attempt logs, and hands due deliveries
// to dispatchers. The in-memory store ([NewMemoryStore]), the SQLite store
// and the Postgres store implement it; package storetest checks any
// implementation against this contract.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines, and a store shared
// by several processes is safe for all of them. Every method is atomic:
// either all of its effect is visible or none.
//
// # Claims
//
// A pending delivery whose NextAttemptAt is at or before now can be
// claimed. Claim marks it as held until now+Lease under a fresh random
// token and counts the attempt (Attempts is incremented), so two
// dispatchers never attempt one delivery at the same time and an attempt
// number is never handed out twice. The holder may Extend the lease while
// it works, then Record the outcome, or Release the claim if it never
// started the attempt. Once a lease has expired, Claim may hand the
// delivery to another dispatcher: it first logs the unfinished attempt as
// Interrupted, then claims the next one (or finishes the delivery as
// failed when the interrupted attempt was its last). From then on the old
// token is refused with [ErrClaimLost].
//
// # Time
//
// Methods never read a clock of their own: the Dispatcher passes its
// clock's time as now, so a store runs on fake time in tests.
//
// # Context
//
// ctx bounds the call only. A call whose ctx is done returns an error
// wrapping ctx.Err() and has no effect.
type Store interface {
	// Insert stores a new pending delivery under d.ID, which the caller
	// chose (the Dispatcher makes a random one), and returns that ID. If d
	// has an IdempotencyKey already held by a stored delivery, nothing is
	// stored and that delivery's ID is returned. When Insert returns nil
	// the delivery is as durable as the store can make it.
	Insert(ctx context.Context, d Delivery) (id string, err error)

	// Get returns the delivery with the given ID, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Delivery, error)

	// Attempts returns a delivery's attempt log in attempt order, or an
	// error wrapping ErrNotFound.
	Attempts(ctx context.Context, id string) ([]Attempt, error)

	// List returns deliveries that match f, oldest CreatedAt first (ties by
	// ID).
	List(ctx context.Context, f Filter) ([]Delivery, error)

	// Claim claims up to r.Limit due deliveries, earliest NextAttemptAt
	// first, skipping the hosts in r.SkipHosts and at most r.HostCap(host)
	// of each host. It returns an empty slice when none is due.
	Claim(ctx context.Context, now time.Time, r ClaimRequest) ([]Claim, error)

	// Extend moves a held claim's lease to until. It returns an error
	// wrapping ErrClaimLost if token no longer holds the delivery.
	Extend(ctx context.Context, id, token string, until time.Time) error

	// Release gives back a claim whose attempt never started: the claim is
	// dropped and the attempt uncounted, and the due time is unchanged. It
	// returns an error wrapping ErrClaimLost if token no longer holds the
	// delivery.
	Release(ctx context.Context, id, token string) error

	// Record appends r.Attempt to the attempt log, applies r's status and
	// due time, and drops the claim, all at once. It returns an error
	// wrapping ErrClaimLost, and changes nothing, if token no longer holds
	// the delivery.
	Record(ctx context.Context, id, token string, r Result) error

	// NextDue returns the earliest time at which a Claim skipping the same
	// hosts could return a delivery: the earliest NextAttemptAt of an
	// unclaimed pending delivery, or LeaseUntil of a claimed one, among
	// the deliveries whose Host is not in skipHosts. ok is false when no
	// such delivery is pending. The Dispatcher skips the hosts at their
	// cap, so that their backlog does not hide another host's retry.
	NextDue(ctx context.Context, skipHosts []string) (at time.Time, ok bool, err error)

	// Purge deletes delivered and failed deliveries, with their attempt
	// logs, whose FinishedAt is before the given time, and returns how many
	// it deleted. Pending deliveries are never purged.
	Purge(ctx context.Context, finishedBefore time.Time) (int, error)
}

// Waker is implemented by a Store that learns of new or changed
// deliveries from elsewhere, such as another process inserting into a
// shared database. The Dispatcher watches the channel and looks for due
// work at once on every receive, besides its own timer and poll.
type Waker interface {
	// Wake returns a channel that receives when deliveries may have become
	// due. It is the same channel on every call.
	Wake() <-chan struct{}
}
