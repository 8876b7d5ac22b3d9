package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// This file holds the group commit. Every write of a Store is a writeOp
// handed to one goroutine, the writer, which owns the only write
// connection. The writer takes whatever ops are waiting, runs them in one
// transaction, each inside its own savepoint, commits once, and then
// answers each op. While a commit waits for the disk, new ops queue up and
// go into the next transaction together, so one fsync serves many writes
// and writers never contend for SQLite's lock.

// States of a writeOp. The writer moves an op from queued to taken just
// before running it; a caller whose ctx ends moves it from queued to
// cancelled instead, and then the op never runs.
const (
	opQueued int32 = iota
	opTaken
	opCancelled
)

// writeOp is one write: fn runs inside the batch's transaction, and its
// error, or the commit's, is sent on done.
type writeOp struct {
	fn    func(tx *wtx) error
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on it
}

// writer runs the group commit loop on db, whose pool holds one
// connection that begins its transactions with BEGIN IMMEDIATE.
type writer struct {
	db       *sql.DB
	maxBatch int
	prepared map[string]*sql.Stmt // writeQueries, prepared on db

	ops      chan *writeOp // unbuffered: an op sent has been received
	quit     chan struct{} // closed by stop
	stopOnce sync.Once
	stopped  chan struct{} // closed when run returns
}

// newWriter returns a writer on db, with writeQueries prepared. Its loop
// is started with run.
func newWriter(db *sql.DB, maxBatch int) (*writer, error) {
	w := &writer{
		db:       db,
		maxBatch: maxBatch,
		prepared: make(map[string]*sql.Stmt, len(writeQueries)),
		ops:      make(chan *writeOp),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	for _, q := range writeQueries {
		st, err := db.Prepare(q)
		if err != nil {
			w.closeStmts()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		w.prepared[q] = st
	}
	return w, nil
}

// closeStmts closes the prepared statements.
func (w *writer) closeStmts() {
	for _, st := range w.prepared {
		_ = st.Close()
	}
}

// writeQueries are the statements the writer prepares once, instead of
// once per use; writeQuery adds to them.
var writeQueries []string

// writeQuery registers q as a statement for the writer to prepare, and
// returns it.
func writeQuery(q string) string {
	writeQueries = append(writeQueries, q)
	return q
}

// Savepoint statements around each op of a batch.
var (
	qSpBegin    = writeQuery("SAVEPOINT op")
	qSpRollback = writeQuery("ROLLBACK TO op")
	qSpRelease  = writeQuery("RELEASE op")
)

// wtx is the transaction an op runs in. Its methods are those of
// [sql.Tx], without contexts (the writer's own is used), and run a
// statement the writer prepared when there is one.
type wtx struct {
	tx       *sql.Tx
	prepared map[string]*sql.Stmt // the writer's, on its connection
	bound    map[string]*sql.Stmt // the same, bound to tx
}

// stmt returns query's prepared statement bound to tx, or nil.
func (t *wtx) stmt(query string) *sql.Stmt {
	if st, ok := t.bound[query]; ok {
		return st
	}
	st, ok := t.prepared[query]
	if !ok {
		return nil
	}
	// The statement was prepared on the connection tx runs on: binding it
	// reuses it rather than preparing again.
	st = t.tx.Stmt(st)
	t.bound[query] = st
	return st
}

// Exec executes query with args.
func (t *wtx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.Exec(args...)
	}
	return t.tx.Exec(query, args...)
}

// Query runs query with args.
func (t *wtx) Query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.Query(args...)
	}
	return t.tx.Query(query, args...)
}

// QueryRow runs query with args, for one row.
func (t *wtx) QueryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRow(args...)
	}
	return t.tx.QueryRow(query, args...)
}

// do runs fn in the writer's next transaction and returns once that
// transaction has been committed (or has failed). If ctx ends before the
// writer takes the op, do returns ctx's error and fn never runs; once
// taken, the op is waited for, so that an error always means no effect.
func (w *writer) do(ctx context.Context, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("webhook: sqlitestore: %w", err)
	}
	op := &writeOp{fn: fn, done: make(chan error, 1)}

	select {
	case w.ops <- op:
	case <-ctx.Done():
		return fmt.Errorf("webhook: sqlitestore: %w", ctx.Err())
	case <-w.quit:
		return ErrClosed
	}

	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opCancelled) {
			return fmt.Errorf("webhook: sqlitestore: %w", ctx.Err())
		}
		// The writer has started the op: its outcome is a commit away.
		return <-op.done
	}
}

// run is the writer's loop. It returns when stop is called, after
// answering every op it has received, and closes the prepared statements.
func (w *writer) run() {
	defer close(w.stopped)
	defer w.closeStmts()
	batch := make([]*writeOp, 0, w.maxBatch)
	for {
		select {
		case op := <-w.ops:
			batch = append(batch[:0], op)
		case <-w.quit:
			return
		}

		// Take every op already waiting, without waiting for more.
	gather:
		for len(batch) < w.maxBatch {
			select {
			case op := <-w.ops:
				batch = append(batch, op)
			default:
				break gather
			}
		}

		w.commit(batch)
		clear(batch)
	}
}

// stop ends the loop and waits for it. Ops sent after stop get ErrClosed.
// It may be called more than once.
func (w *writer) stop() {
	w.stopOnce.Do(func() { close(w.quit) })
	<-w.stopped
}

// commit runs the batch's live ops in one transaction and answers them.
func (w *writer) commit(batch []*writeOp) {
	live := batch[:0:0]
	for _, op := range batch {
		if op.state.CompareAndSwap(opQueued, opTaken) {
			live = append(live, op)
		}
	}
	if len(live) == 0 {
		return
	}

	errs := make([]error, len(live))
	answer := func() {
		for i, op := range live {
			op.done <- errs[i]
		}
	}

	// The ops run on the writer's own context: their callers wait for the
	// outcome, so that an op is never half done when its caller gives up.
	ctx := context.Background()
	sqlTx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("webhook: sqlitestore: begin transaction: %w", err)
		}
		answer()
		return
	}
	tx := &wtx{tx: sqlTx, prepared: w.prepared, bound: map[string]*sql.Stmt{}}

	// A lone op needs no savepoint: on error the transaction is rolled
	// back whole. In a batch, each op's savepoint undoes that op alone.
	if len(live) == 1 {
		if errs[0] = live[0].fn(tx); errs[0] != nil {
			_ = sqlTx.Rollback()
			answer()
			return
		}
	} else {
		for i, op := range live {
			var broken error
			errs[i], broken = runInSavepoint(tx, op.fn)
			if broken != nil {
				// SQLite rolled the transaction back (a full disk, an I/O
				// error): nothing of the batch is left to commit.
				_ = sqlTx.Rollback()
				for j := range errs {
					if j != i || errs[j] == nil {
						errs[j] = fmt.Errorf("webhook: sqlitestore: transaction aborted: %w", broken)
					}
				}
				answer()
				return
			}
		}
	}

	if err := sqlTx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("webhook: sqlitestore: commit: %w", err)
			}
		}
	}
	answer()
}

// runInSavepoint runs fn inside a savepoint of tx, undoing fn's changes if
// it fails, and returns fn's error. broken is set when the transaction
// itself is gone, so that no later statement may run in it: outside a
// transaction, a SAVEPOINT would start a new one of its own.
func runInSavepoint(tx *wtx, fn func(tx *wtx) error) (err, broken error) {
	if _, err := tx.Exec(qSpBegin); err != nil {
		return nil, err
	}
	if err = fn(tx); err != nil {
		if _, rbErr := tx.Exec(qSpRollback); rbErr != nil {
			return err, rbErr
		}
	}
	if _, relErr := tx.Exec(qSpRelease); relErr != nil {
		return err, relErr
	}
	return err, nil
}
