package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratakit/webhook"
)

// ErrSchemaVersion reports, at [Open] with Options.SkipMigrate, tables at
// an older schema version than this package needs.
var ErrSchemaVersion = errors.New("webhook: pgstore: schema version too old")

// Store is a [webhook.Store] on PostgreSQL, shared safely by any number of
// Dispatchers in any number of processes. It also implements
// [webhook.Waker]. See the package documentation.
type Store struct {
	pool *pgxpool.Pool
	opts Options
	n    names
	q    queries

	wake      chan struct{}      // Wake's channel
	dirty     chan struct{}      // a notice is owed to the other stores
	stop      context.CancelFunc // ends the listener and the notifier
	workers   sync.WaitGroup     // the listener and the notifier
	closeOnce sync.Once
}

var (
	_ webhook.Store = (*Store)(nil)
	_ webhook.Waker = (*Store)(nil)
)

// Open returns a Store on the caller's pool, which it uses but never
// closes. Unless o.SkipMigrate is set it first brings the tables to the
// latest schema version (see [Migrate]); with it, it checks the version
// and returns an error wrapping [ErrSchemaVersion] if the tables are
// older. Unless o.DisableListen is set it takes one connection out of the
// pool for LISTEN and holds it until [Store.Close].
//
// ctx bounds Open only. It returns an error wrapping
// webhook.ErrInvalidConfig if o is invalid.
func Open(ctx context.Context, pool *pgxpool.Pool, o Options) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: pgstore Open: pool is nil", webhook.ErrInvalidConfig)
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Store{
		pool:  pool,
		opts:  o,
		n:     o.names(),
		wake:  make(chan struct{}, 1),
		dirty: make(chan struct{}, 1),
	}
	s.q = buildQueries(s.n)

	if o.SkipMigrate {
		if err := checkVersion(ctx, pool, s.n); err != nil {
			return nil, err
		}
	} else if err := migrate(ctx, pool, o.Schema, s.n); err != nil {
		return nil, err
	}

	var conn *pgx.Conn
	if !o.DisableListen {
		var err error
		if conn, err = s.connectListener(ctx); err != nil {
			return nil, fmt.Errorf("webhook: pgstore open: listen on %q "+
				"(set Options.DisableListen where LISTEN is unavailable): %w",
				o.NotifyChannel, err)
		}
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.workers.Go(func() { s.notifier(bg) })
	if conn != nil {
		s.workers.Go(func() { s.listen(bg, conn) })
	}
	return s, nil
}

// Close sends the notice still owed for the last inserts, stops the
// listener and closes its connection. It does not close the pool. The
// Store must not be used afterwards; the Dispatchers using it must have
// stopped. Close is idempotent and returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		s.workers.Wait()
	})
	return nil
}

// Insert implements [webhook.Store]. It stores d as a new delivery:
// pending, with no attempt made and no claim, whatever d's state fields
// say; an empty d.ID gets a fresh random one. The delivery is committed
// when Insert returns nil. The stores listening on the channel are then
// notified, and look for due work at once; see "Waking" in the package
// documentation for why the notice follows the commit rather than riding
// in it.
func (s *Store) Insert(ctx context.Context, d webhook.Delivery) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fail(ctx, "insert", err)
	}
	id, inserted, err := s.insert(ctx, s.pool, d, false)
	if err != nil {
		return "", fail(ctx, "insert", err)
	}
	if inserted {
		s.notifyLater()
	}
	return id, nil
}

// querier is what Insert needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insert stores d through q and returns its ID, or the ID of the delivery
// already holding d's idempotency key and false. With notify the statement
// also queues a notice, sent when q's transaction commits.
func (s *Store) insert(ctx context.Context, q querier, d webhook.Delivery, notify bool) (
	id string, inserted bool, err error) {
	if d.ID == "" {
		d.ID = newID()
	}
	body := d.Body
	if body == nil {
		body = []byte{}
	}
	args := []any{d.ID, d.IdempotencyKey, d.URL, d.Host, string(d.EventType),
		d.ProductionID, body, d.SecretKey, d.NextAttemptAt, d.CreatedAt}
	sql, dest := s.q.insert, []any{&id}
	if notify {
		sql = s.q.insertNotify
		args = append(args, s.n.channel)
		dest = append(dest, nil)
	}
	// The key's holder may be purged between the two statements; then the
	// insert is tried again.
	for range 3 {
		err = q.QueryRow(ctx, sql, args...).Scan(dest...)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, err
		}

		// The idempotency key is taken: ON CONFLICT waited for the holder's
		// transaction to commit, so this statement's fresh snapshot sees it.
		err = q.QueryRow(ctx, s.q.byKey, d.IdempotencyKey).Scan(&id)
		if err == nil {
			return id, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("look up idempotency key %q: %w",
				d.IdempotencyKey, err)
		}
	}
	return "", false, fmt.Errorf("idempotency key %q: held by a delivery that "+
		"cannot be read back", d.IdempotencyKey)
}

// Get implements [webhook.Store].
func (s *Store) Get(ctx context.Context, id string) (webhook.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return webhook.Delivery{}, fail(ctx, "get", err)
	}
	rows, err := s.pool.Query(ctx, s.q.get, id)
	if err != nil {
		return webhook.Delivery{}, fail(ctx, "get", err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Delivery{}, fmt.Errorf("webhook: pgstore get %q: %w",
			id, webhook.ErrNotFound)
	}
	if err != nil {
		return webhook.Delivery{}, fail(ctx, "get", err)
	}
	return d, nil
}

// Attempts implements [webhook.Store].
func (s *Store) Attempts(ctx context.Context, id string) ([]webhook.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "attempts", err)
	}

	// One statement, so the delivery's existence and its log are read
	// from one snapshot: a row with NULL attempt fields says the delivery
	// exists with no attempt yet.
	rows, err := s.pool.Query(ctx, s.q.attempts, id)
	if err != nil {
		return nil, fail(ctx, "attempts", err)
	}
	var (
		found bool
		out   []webhook.Attempt
	)
	for rows.Next() {
		found = true
		var (
			number     *int
			startedAt  time.Time
			durationNS int64
			a          webhook.Attempt
		)
		err := rows.Scan(&number, &startedAt, &durationNS, &a.StatusCode,
			&a.ResponseBody, &a.Error, &a.Interrupted)
		if err != nil {
			rows.Close()
			return nil, fail(ctx, "attempts", err)
		}
		if number == nil {
			continue
		}
		a.Number = *number
		a.StartedAt = startedAt.UTC()
		a.Duration = time.Duration(durationNS)
		if len(a.ResponseBody) == 0 {
			a.ResponseBody = nil
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(ctx, "attempts", err)
	}
	if !found {
		return nil, fmt.Errorf("webhook: pgstore attempts %q: %w", id, webhook.ErrNotFound)
	}
	return out, nil
}

// List implements [webhook.Store]. A filter on Status or ProductionID is
// served by an index; a List without either sorts the whole table, which
// is meant for tools, not for a hot path.
func (s *Store) List(ctx context.Context, f webhook.Filter) ([]webhook.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(ctx, "list", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, s.q.list, string(f.Status), f.ProductionID, limit)
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fail(ctx, "list", err)
	}
	return out, nil
}

// NextDue implements [webhook.Store].
func (s *Store) NextDue(ctx context.Context, skipHosts []string) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, fail(ctx, "next due", err)
	}
	if skipHosts == nil {
		skipHosts = []string{} // a NULL array would match no host at all
	}
	var at *time.Time
	if err := s.pool.QueryRow(ctx, s.q.nextDue, skipHosts).Scan(&at); err != nil {
		return time.Time{}, false, fail(ctx, "next due", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}

// Purge implements [webhook.Store]. It deletes in one statement; the
// attempt logs go with their deliveries (ON DELETE CASCADE).
func (s *Store) Purge(ctx context.Context, finishedBefore time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fail(ctx, "purge", err)
	}
	tag, err := s.pool.Exec(ctx, s.q.purge, finishedBefore)
	if err != nil {
		return 0, fail(ctx, "purge", err)
	}
	return int(tag.RowsAffected()), nil
}

// scanDelivery reads a row of deliveryColumns.
func scanDelivery(row pgx.CollectableRow) (webhook.Delivery, error) {
	var (
		d                 webhook.Delivery
		eventType, status string
		leaseUntil, finAt *time.Time
		nextAt, createdAt time.Time
	)
	err := row.Scan(&d.ID, &d.IdempotencyKey, &d.URL, &d.Host, &eventType,
		&d.ProductionID, &d.Body, &d.SecretKey, &status, &d.Attempts, &nextAt,
		&leaseUntil, &d.LastError, &createdAt, &finAt)
	if err != nil {
		return webhook.Delivery{}, err
	}
	d.EventType = webhook.EventType(eventType)
	d.Status = webhook.Status(status)
	d.NextAttemptAt = nextAt.UTC()
	d.CreatedAt = createdAt.UTC()
	if leaseUntil != nil {
		d.LeaseUntil = leaseUntil.UTC()
	}
	if finAt != nil {
		d.FinishedAt = finAt.UTC()
	}
	return d, nil
}

// fail wraps an error of operation op; if ctx has ended it wraps ctx.Err()
// too, whatever error the driver made of it.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("webhook: pgstore %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("webhook: pgstore %s: %w", op, err)
}

// idEncoding spells IDs in the lowercase base32 of the Dispatcher's IDs.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").
	WithPadding(base32.NoPadding)

// newID returns a random delivery ID, in the form of the Dispatcher's, for
// a delivery inserted without one.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return "msg_" + idEncoding.EncodeToString(b[:])
}
