package sqlitestore

import (
	"fmt"
	"time"

	"github.com/stratakit/webhook"
)

// Option changes how [Open] opens a store. With no option a store is as
// durable as SQLite can make it; every default is stated on its option.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// Synchronous is how hard a commit pushes its data to disk before it
// returns: SQLite's "PRAGMA synchronous" in WAL mode.
type Synchronous int

const (
	// SynchronousFull flushes the write-ahead log to disk (fsync) on every
	// commit, so a delivery that Insert accepted survives a crash of the
	// process, of the operating system, or a power cut. The default.
	SynchronousFull Synchronous = iota

	// SynchronousNormal flushes only at checkpoints. A commit survives a
	// crash of the process, but the last commits before an operating
	// system crash or a power cut may be lost; the database stays
	// consistent either way. Faster on disks with slow fsync.
	SynchronousNormal
)

// String returns the name SQLite gives the setting: "FULL" or "NORMAL".
func (s Synchronous) String() string {
	switch s {
	case SynchronousFull:
		return "FULL"
	case SynchronousNormal:
		return "NORMAL"
	}
	return fmt.Sprintf("Synchronous(%d)", int(s))
}

// Defaults of the options.
const (
	// DefaultBusyTimeout is how long a write waits for a lock held by
	// another process on the same file before it fails.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultReadConns is the size of the pool of read connections.
	DefaultReadConns = 4
	// DefaultMaxBatch is the most writes committed in one transaction.
	DefaultMaxBatch = 1000
)

type options struct {
	synchronous Synchronous
	busyTimeout time.Duration
	readConns   int
	maxBatch    int
}

func defaultOptions() options {
	return options{
		synchronous: SynchronousFull,
		busyTimeout: DefaultBusyTimeout,
		readConns:   DefaultReadConns,
		maxBatch:    DefaultMaxBatch,
	}
}

// WithSynchronous sets how commits reach the disk. The default,
// [SynchronousFull], makes every write durable before its method returns;
// [SynchronousNormal] trades the last commits before a system crash for
// speed, and must be asked for.
func WithSynchronous(s Synchronous) Option {
	return optionFunc(func(o *options) { o.synchronous = s })
}

// WithBusyTimeout sets how long a write waits for a lock held by another
// process (or another Store) on the same file before it fails. Writes of
// one Store never wait for each other: they are committed together. The
// default is [DefaultBusyTimeout], 5 s; zero fails at once.
func WithBusyTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.busyTimeout = d })
}

// WithReadConns sets how many connections serve reads (Get, Attempts,
// List, NextDue) beside the one write connection. The default is
// [DefaultReadConns], 4; it must be at least 1.
func WithReadConns(n int) Option {
	return optionFunc(func(o *options) { o.readConns = n })
}

// WithMaxBatch caps how many queued writes are committed in one
// transaction. The default is [DefaultMaxBatch], 1000; it must be at
// least 1, and 1 turns group commit off (one transaction per write).
func WithMaxBatch(n int) Option {
	return optionFunc(func(o *options) { o.maxBatch = n })
}

// validate reports the first option out of range, naming it.
func (o options) validate() error {
	bad := func(name string, v any, why string) error {
		return fmt.Errorf("%w: sqlitestore: %s: %v %s", webhook.ErrInvalidConfig, name, v, why)
	}
	switch {
	case o.synchronous != SynchronousFull && o.synchronous != SynchronousNormal:
		return bad("WithSynchronous", o.synchronous, "is not SynchronousFull or SynchronousNormal")
	case o.busyTimeout < 0:
		return bad("WithBusyTimeout", o.busyTimeout, "is negative")
	case o.readConns < 1:
		return bad("WithReadConns", o.readConns, "is below 1")
	case o.maxBatch < 1:
		return bad("WithMaxBatch", o.maxBatch, "is below 1")
	}
	return nil
}
