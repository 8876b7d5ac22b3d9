package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stratakit/webhook"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrClosed reports a call on a Store after Close.
var ErrClosed = errors.New("webhook: sqlitestore: store closed")

// Store is a [webhook.Store] kept in one SQLite file. Open it with [Open];
// Close it when done. A Store is safe for concurrent use, and several
// Stores, in one process or many, may open the same file.
type Store struct {
	w       *writer
	writeDB *sql.DB // one connection, owned by w once Open returns
	readDB  *sql.DB // a pool of read-only connections

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ webhook.Store = (*Store)(nil)

// Open opens the store in the SQLite file at path, creating the file if
// it does not exist, and creates or migrates its schema to this package's
// version in one transaction. The file is put in WAL mode, so that reads
// run beside the writes; with no option every write is flushed to disk
// before it returns (see [WithSynchronous]). Open refuses a file whose
// schema is newer than this package knows.
func Open(path string, opts ...Option) (*Store, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%w: sqlitestore: path: empty", webhook.ErrInvalidConfig)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("webhook: sqlitestore: path %q: %w", path, err)
	}

	// A "file:" URI, so that any file name works: the driver reads the
	// query, SQLite the path.
	uri := "file:" + escapePath(abs)
	common := url.Values{}
	common.Set("_busy_timeout", fmt.Sprint(o.busyTimeout.Milliseconds()))
	common.Set("_synchronous", o.synchronous.String())
	common.Set("_foreign_keys", "1")

	// The write connection: BEGIN IMMEDIATE takes the write lock up front,
	// so a transaction never fails halfway for want of it.
	wq := cloneValues(common)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_txlock", "immediate")
	// The savepoint around each write of a batch keeps the pages it
	// changes in a sub-journal: in memory, not in a temporary file.
	wq.Add("_pragma", "temp_store(memory)")
	writeDB, err := sql.Open("sqlite", uri+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("webhook: sqlitestore: open %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)

	if err := setUp(writeDB); err != nil {
		_ = writeDB.Close()
		return nil, fmt.Errorf("webhook: sqlitestore: open %s: %w", path, err)
	}

	rq := cloneValues(common)
	rq.Set("_query_only", "1")
	readDB, err := sql.Open("sqlite", uri+"?"+rq.Encode())
	if err != nil {
		_ = writeDB.Close()
		return nil, fmt.Errorf("webhook: sqlitestore: open %s: %w", path, err)
	}
	readDB.SetMaxOpenConns(o.readConns)
	readDB.SetMaxIdleConns(o.readConns)

	w, err := newWriter(writeDB, o.maxBatch)
	if err != nil {
		_ = errors.Join(readDB.Close(), writeDB.Close())
		return nil, fmt.Errorf("webhook: sqlitestore: open %s: %w", path, err)
	}
	s := &Store{w: w, writeDB: writeDB, readDB: readDB}
	go w.run()
	return s, nil
}

// setUp checks that the file took WAL mode and migrates its schema.
func setUp(db *sql.DB) error {
	ctx := context.Background()
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL", mode)
	}
	return migrate(ctx, db)
}

// escapePath makes p safe as the path of a "file:" URI.
func escapePath(p string) string {
	p = filepath.ToSlash(p)
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(p)
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Close stops the writer, after the writes it has taken are committed,
// and closes the database. Calls after Close return [ErrClosed]. Close may
// be called more than once; later calls return nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.closed.Store(true)
		s.w.stop()
		s.closeErr = errors.Join(s.readDB.Close(), s.writeDB.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("webhook: sqlitestore: close: %w", s.closeErr)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// readErr wraps an error of a read, naming what was read; a done ctx is
// reported as such, whatever the driver made of it.
func (s *Store) readErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("webhook: sqlitestore: %s: %w", what, ctxErr)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("webhook: sqlitestore: %s: %w", what, err)
}

// startRead returns the error that keeps a read from starting, if any.
func (s *Store) startRead(ctx context.Context, what string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: sqlitestore: %s: %w", what, err)
	}
	return nil
}
