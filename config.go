package webhook

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Config configures a [Dispatcher]. The zero value of every field but Store
// means the documented default.
type Config struct {
	// Store keeps deliveries. Required.
	Store Store

	// Client sends the requests. Nil means a client built for webhooks: no
	// cookie jar, redirects never followed, the SSRF guard on its dialer,
	// at most PerHostLimit idle connections per host. A caller's client is
	// copied, never changed: the copy drops the cookie jar and follows no
	// redirect. While the SSRF guard is on, the client's Transport must be
	// nil or an *http.Transport, which the copy clones: its own DialContext
	// (or Dial) is kept and called with each address the guard allowed. A
	// Transport with a Proxy, DialTLSContext or DialTLS is refused while
	// the guard is on, since it would dial around the guard.
	Client *http.Client

	// Clock is the source of time. Nil means real time.
	Clock Clock

	// Logger receives one line per attempt outcome and one per final state.
	// Nil means silent.
	Logger *slog.Logger

	// OnAttempt, if set, is called after each attempt's outcome has been
	// recorded in the Store, with the delivery as it now stands and the
	// attempt's log entry: for metrics, and for tests that wait for an
	// outcome before advancing a fake clock. It must not block for long.
	OnAttempt func(d Delivery, a Attempt)

	// Workers is the most attempts in flight at once. Zero means 16.
	Workers int

	// PerHostLimit is the most attempts in flight at once to one host (the
	// URL's lowercased host and port), so one slow endpoint cannot take
	// every worker. Zero means 4. It is per Dispatcher: N processes sharing
	// a store may run N*PerHostLimit attempts to one host.
	PerHostLimit int

	// Schedule gives the delay before each retry. Nil means
	// DefaultSchedule: six attempts, at 0 s, then 1 s, 5 s, 30 s, 2 min
	// and 10 min after each failure.
	Schedule Schedule

	// AttemptTimeout is how long an attempt may take until the status line
	// arrives, DNS, connect, TLS and sending included. Zero means 30 s.
	AttemptTimeout time.Duration

	// BodyTimeout bounds reading a reply's body for the attempt log, after
	// the status line decided the outcome. Zero means 2 s.
	BodyTimeout time.Duration

	// RetryAfterLimit caps how far a 429 or 503 reply's Retry-After may push
	// the next attempt. Zero means 10 min.
	RetryAfterLimit time.Duration

	// Lease is how long a claim on a delivery holds before another
	// dispatcher sharing the store may take it over; it is extended while
	// the attempt runs. Zero means 1 min. It must exceed AttemptTimeout
	// plus BodyTimeout.
	Lease time.Duration

	// PollInterval is how often the Dispatcher asks the Store for due work
	// besides its timer on the earliest due time, to notice deliveries
	// inserted by other processes. Zero means 5 s.
	PollInterval time.Duration

	// Retention is how long finished deliveries are kept before they are
	// purged in the background. Zero means 7 days; negative keeps them
	// forever.
	Retention time.Duration

	// AllowHTTP permits plain http:// webhook URLs, for local development
	// and tunnels. False (the default) accepts https only.
	AllowHTTP bool

	// Allow opens exceptions in the SSRF guard, which by default refuses
	// loopback, private, link-local and other non-public addresses. Each
	// entry is an IP address ("127.0.0.1"), a network in CIDR notation
	// ("10.1.0.0/16") or a host name ("localhost", matched exactly, case
	// insensitively). Tests and local development allow loopback here.
	// {"0.0.0.0/0", "::/0"} turns the guard off: something else, such as an
	// egress proxy, must then keep webhooks off internal networks.
	Allow []string

	// SigningSecrets are the default signing secrets, each "whsec_" and
	// the base64 of 24 to 64 random bytes. With one or more, every attempt
	// carries a webhook-signature header with one signature per secret.
	// Empty (the default) sends no signature unless SecretSource gives
	// some.
	SigningSecrets []string

	// SecretSource looks up the signing secrets of a delivery sent with
	// [WithSecretKey], at each attempt, so that secrets are never stored
	// with deliveries and a rotation reaches pending retries. Nil means
	// only SigningSecrets are used.
	SecretSource SecretSource
}

// Defaults of the Config fields.
const (
	DefaultWorkers         = 16
	DefaultPerHostLimit    = 4
	DefaultAttemptTimeout  = 30 * time.Second
	DefaultBodyTimeout     = 2 * time.Second
	DefaultRetryAfterLimit = 10 * time.Minute
	DefaultLease           = time.Minute
	DefaultPollInterval    = 5 * time.Second
	DefaultRetention       = 7 * 24 * time.Hour
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.PerHostLimit == 0 {
		c.PerHostLimit = DefaultPerHostLimit
	}
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.RetryAfterLimit == 0 {
		c.RetryAfterLimit = DefaultRetryAfterLimit
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	return c
}

// validate reports the first field out of range, naming it.
func (c Config) validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s: %v %s", ErrInvalidConfig, field, v, why)
	}
	switch {
	case c.Store == nil:
		return fmt.Errorf("%w: Store: nil, a Store is required", ErrInvalidConfig)
	case c.Workers < 1:
		return bad("Workers", c.Workers, "is below 1")
	case c.PerHostLimit < 1:
		return bad("PerHostLimit", c.PerHostLimit, "is below 1")
	case c.AttemptTimeout < 0:
		return bad("AttemptTimeout", c.AttemptTimeout, "is negative")
	case c.BodyTimeout < 0:
		return bad("BodyTimeout", c.BodyTimeout, "is negative")
	case c.RetryAfterLimit < 0:
		return bad("RetryAfterLimit", c.RetryAfterLimit, "is negative")
	case c.PollInterval < 0:
		return bad("PollInterval", c.PollInterval, "is negative")
	case c.Lease <= c.AttemptTimeout+c.BodyTimeout:
		return bad("Lease", c.Lease, fmt.Sprintf("does not exceed AttemptTimeout+BodyTimeout (%v)",
			c.AttemptTimeout+c.BodyTimeout))
	}
	return nil
}
