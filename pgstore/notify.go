package pgstore

import (
	"context"
	"time"
)

// notifyTimeout bounds one NOTIFY.
const notifyTimeout = 5 * time.Second

// notifyLater owes the listening stores a notice, which the notifier sends
// soon. Notices owed while one is being sent are merged into the next.
func (s *Store) notifyLater() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// notifier sends the notices owed, one NOTIFY at a time, until ctx ends;
// then it sends the one still owed, if any.
//
// Postgres serializes the commits of transactions that NOTIFY: each holds
// a database-wide lock from just before its commit until the commit is on
// disk, so a NOTIFY in every insert would take away group commit and cap
// inserts at one disk flush each: BenchmarkInsert ran five times slower
// so. Sent apart, one notice covers every insert committed while the
// previous one was on its way.
func (s *Store) notifier(ctx context.Context) {
	for {
		select {
		case <-s.dirty:
			s.notify(ctx)
		case <-ctx.Done():
			select {
			case <-s.dirty:
				s.notify(context.Background())
			default:
			}
			return
		}
	}
}

// notify sends one notice. A failure is logged only: listeners still look
// for due work on their Dispatcher's poll.
func (s *Store) notify(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if _, err := s.pool.Exec(ctx, s.q.notify, s.n.channel); err != nil {
		s.opts.Logger.Warn("webhook pgstore notify failed",
			"channel", s.n.channel, "error", err)
	}
}
