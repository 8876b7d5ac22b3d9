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
	fn    func(tx *sql.Tx) error
	state atomic.Int32
	done  chan error // buffered: the writer never blocks on it
}

// writer runs the group commit loop on db, whose pool holds one
// connection that begins its transactions with BEGIN IMMEDIATE.
type writer struct {
	db       *sql.DB
	maxBatch int

	ops      chan *writeOp // unbuffered: an op sent has been received
	quit     chan struct{} // closed by stop
	stopOnce sync.Once
	stopped  chan struct{} // closed when run returns
}

func newWriter(db *sql.DB, maxBatch int) *writer {
	return &writer{
		db:       db,
		maxBatch: maxBatch,
		ops:      make(chan *writeOp),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
}

// do runs fn in the writer's next transaction and returns once that
// transaction has been committed (or has failed). If ctx ends before the
// writer takes the op, do returns ctx's error and fn never runs; once
// taken, the op is waited for, so that an error always means no effect.
func (w *writer) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
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
// answering every op it has received.
func (w *writer) run() {
	defer close(w.stopped)
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
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("webhook: sqlitestore: begin transaction: %w", err)
		}
		answer()
		return
	}

	// A lone op needs no savepoint: on error the transaction is rolled
	// back whole. In a batch, each op's savepoint undoes that op alone.
	if len(live) == 1 {
		if errs[0] = live[0].fn(tx); errs[0] != nil {
			_ = tx.Rollback()
			answer()
			return
		}
	} else {
		for i, op := range live {
			var broken error
			errs[i], broken = runInSavepoint(ctx, tx, op.fn)
			if broken != nil {
				// SQLite rolled the transaction back (a full disk, an I/O
				// error): nothing of the batch is left to commit.
				_ = tx.Rollback()
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

	if err := tx.Commit(); err != nil {
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
func runInSavepoint(ctx context.Context, tx *sql.Tx, fn func(tx *sql.Tx) error) (err, broken error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		return nil, err
	}
	if err = fn(tx); err != nil {
		if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO op"); rbErr != nil {
			return err, rbErr
		}
	}
	if _, relErr := tx.ExecContext(ctx, "RELEASE op"); relErr != nil {
		return err, relErr
	}
	return err, nil
}
