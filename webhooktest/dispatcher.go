package webhooktest

import (
	"bytes"
	"log/slog"
	"sync"

	"github.com/stratakit/webhook"
)

// loopback is what NewDispatcher adds to Config.Allow.
var loopback = []string{"127.0.0.0/8", "::1", "localhost"}

// NewDispatcher returns a started Dispatcher for a test, built from cfg
// with these changes:
//
//   - A nil Store becomes a new [webhook.MemoryStore].
//   - AllowHTTP is set, and "127.0.0.0/8", "::1" and "localhost" are added
//     to Allow, so that the Dispatcher may send to a [Receiver] on the
//     loopback interface.
//   - A nil Logger becomes one that writes every line, debug included, to
//     tb.Logf, so that a failing test shows what the Dispatcher did.
//   - OnAttempt, if set, is called as before, but no longer once the test
//     has been cleaned up.
//
// A nil Clock stays real time: pass a [Clock] to control time, as most
// tests of retries do. NewDispatcher fails the test if New or Start
// returns an error, and registers with tb.Cleanup a hard stop
// ([webhook.Dispatcher.StopAndCancel]) that waits up to [WaitLimit] for
// attempts in flight to end, and fails the test if they do not.
func NewDispatcher(tb TB, cfg webhook.Config) *webhook.Dispatcher {
	tb.Helper()
	if cfg.Store == nil {
		cfg.Store = webhook.NewMemoryStore()
	}
	cfg.AllowHTTP = true
	cfg.Allow = append(append([]string(nil), cfg.Allow...), loopback...)

	// Nothing reaches tb once the test is over: testing.T panics on a log
	// after its test has completed.
	g := &testGate{tb: tb}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(g, &slog.HandlerOptions{
			Level:       slog.LevelDebug,
			ReplaceAttr: dropTime,
		}))
	}
	if hook := cfg.OnAttempt; hook != nil {
		cfg.OnAttempt = func(d webhook.Delivery, a webhook.Attempt) {
			g.mu.RLock()
			defer g.mu.RUnlock()
			if !g.closed {
				hook(d, a)
			}
		}
	}

	d, err := webhook.New(cfg)
	if err != nil {
		tb.Fatalf("webhooktest: new dispatcher: %v", err)
		return nil
	}
	if err := d.Start(); err != nil {
		tb.Fatalf("webhooktest: start dispatcher: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		ctx, cancel := limitContext()
		defer cancel()
		if err := d.StopAndCancel(ctx); err != nil {
			tb.Errorf("webhooktest: stop dispatcher: %v", err)
		}
		g.close()
	})
	return d
}

// testGate passes log lines and hook calls on to a test until it closes.
type testGate struct {
	tb     TB
	mu     sync.RWMutex
	closed bool
}

// Write logs one line of the Dispatcher's log through tb.Logf.
func (g *testGate) Write(p []byte) (int, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.closed {
		g.tb.Logf("%s", bytes.TrimSuffix(p, []byte("\n")))
	}
	return len(p), nil
}

// close stops passing anything on, once calls in progress have returned.
func (g *testGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// dropTime removes the real-time timestamp slog adds to every line: in a
// test it is noise, and it disagrees with a fake clock.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
