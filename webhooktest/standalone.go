package webhooktest

import (
	"fmt"
	"sync"
)

// Standalone is a [TB] for using this package outside a test: in an
// Example function, or in a program that wants a local Receiver. Errorf
// and Fatalf panic with their message, Logf discards its message, and the
// functions given to Cleanup run, last first, when Close is called. The
// zero value is ready to use; it is safe for concurrent use.
type Standalone struct {
	mu       sync.Mutex
	cleanups []func()
}

// Helper does nothing.
func (s *Standalone) Helper() {}

// Cleanup registers f to be called by Close.
func (s *Standalone) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Errorf panics with the formatted message.
func (s *Standalone) Errorf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// Fatalf panics with the formatted message.
func (s *Standalone) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// Logf discards the message.
func (s *Standalone) Logf(string, ...any) {}

// Close calls the functions registered with Cleanup, the last registered
// first, and forgets them.
func (s *Standalone) Close() {
	s.mu.Lock()
	cleanups := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}
