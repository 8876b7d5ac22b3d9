package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/jackc/pgx/v5"
)

// Backoff of the listener's reconnection: from 100 ms, doubling, at most
// 30 s apart, for as long as the store is open.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 30 * time.Second
	closeTimeout   = 5 * time.Second
)

// Wake implements [webhook.Waker]: the channel receives when a store on
// the same tables, in this process or another, inserted or released a
// delivery, and after the listener reconnected, since notices sent while
// it was away are lost. Receives are coalesced: the channel holds at most
// one. With Options.DisableListen it never receives.
func (s *Store) Wake() <-chan struct{} { return s.wake }

// signal wakes the Dispatcher without ever blocking.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// connectListener takes a connection out of the pool, so the pool's
// connect hooks apply but the pool neither counts nor recycles it, and
// starts listening on it.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	conn := pc.Hijack()
	_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.n.channel}.Sanitize())
	if err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// listen turns notices on conn into wake-ups until ctx ends, reconnecting
// with backoff whenever the connection fails.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = listenRetryMin
	b.MaxInterval = listenRetryMax
	b.MaxElapsedTime = 0

	for {
		err := s.wait(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		s.opts.Logger.Warn("webhook pgstore listener lost its connection",
			"channel", s.n.channel, "error", err)

		// Reconnect, waiting longer after each failure.
		for {
			t := time.NewTimer(b.NextBackOff())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			conn, err = s.connectListener(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.opts.Logger.Warn("webhook pgstore listener cannot reconnect",
				"channel", s.n.channel, "error", err)
		}
		b.Reset()
		s.signal()
	}
}

// wait signals on every notice until the connection fails or ctx ends.
func (s *Store) wait(ctx context.Context, conn *pgx.Conn) error {
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for a notification: %w", err)
		}
		s.signal()
	}
}

// closeConn closes a listener connection, bounded so that a dead server
// cannot hold Close up.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	conn.Close(ctx)
}
