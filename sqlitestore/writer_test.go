package sqlitestore

import (
	"context"
	"errors"
	"testing"

	"github.com/stratakit/webhook"
	"github.com/stretchr/testify/require"
)

// insertOp returns an op that inserts delivery id and then fails with
// fail, if set.
func insertOp(id string, fail error) *writeOp {
	return &writeOp{done: make(chan error, 1), fn: func(tx *wtx) error {
		d := newDelivery(id, t0)
		_, err := tx.Exec(`INSERT INTO deliveries (`+deliveryColumns+`,
				claim_token, claimed_at)
			VALUES (?, NULL, ?, ?, ?, ?, ?, '', 'pending', 0, ?, ?, '', ?, ?, NULL, ?)`,
			d.ID, d.URL, d.Host, string(d.EventType), d.ProductionID, d.Body,
			encodeTime(d.NextAttemptAt), zeroTime, encodeTime(d.CreatedAt), zeroTime, zeroTime)
		if err != nil {
			return err
		}
		return fail
	}}
}

func TestBatchUndoesOnlyTheFailedWrite(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	// Drive commit by hand, beside the idle writer loop.

	boom := errors.New("boom")
	cancelled := insertOp("cancelled", nil)
	cancelled.state.Store(opCancelled)
	batch := []*writeOp{
		insertOp("a", nil),
		insertOp("b", boom), // inserted, then undone
		insertOp("a", nil),  // duplicate ID: the statement fails
		cancelled,           // never runs
		insertOp("c", nil),
	}
	s.w.commit(batch)

	wantErr := []error{nil, boom, nil, nil, nil}
	for i, op := range batch {
		if i == 3 {
			require.Empty(t, op.done, "a cancelled op is not answered")
			continue
		}
		err := <-op.done
		switch {
		case i == 2:
			require.ErrorContains(t, err, "UNIQUE constraint failed")
		default:
			require.ErrorIs(t, err, wantErr[i], "op %d", i)
			if wantErr[i] == nil {
				require.NoError(t, err, "op %d", i)
			}
		}
	}

	ctx := context.Background()
	for id, want := range map[string]bool{"a": true, "b": false, "c": true, "cancelled": false} {
		_, err := s.Get(ctx, id)
		if want {
			require.NoError(t, err, id)
		} else {
			require.ErrorIs(t, err, webhook.ErrNotFound, id)
		}
	}
}

func TestLoneFailedWriteIsRolledBack(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)

	boom := errors.New("boom")
	op := insertOp("a", boom)
	s.w.commit([]*writeOp{op})
	require.ErrorIs(t, <-op.done, boom)
	_, err := s.Get(context.Background(), "a")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// The connection is usable again.
	op = insertOp("b", nil)
	s.w.commit([]*writeOp{op})
	require.NoError(t, <-op.done)
}

func TestWriteWaitingForTheWriterCanBeCancelled(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)

	// Hold the writer inside a write until the test lets it go.
	held, release := make(chan struct{}), make(chan struct{})
	holdErr := make(chan error, 1)
	go func() {
		holdErr <- s.w.do(context.Background(), func(*wtx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held

	ctx, cancel := context.WithCancel(context.Background())
	ran := false
	errc := make(chan error, 1)
	go func() {
		errc <- s.w.do(ctx, func(*wtx) error { ran = true; return nil })
	}()
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	close(release)
	require.NoError(t, <-holdErr)
	require.NoError(t, s.w.do(context.Background(), func(*wtx) error { return nil }))
	require.False(t, ran)
}
