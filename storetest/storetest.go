// Package storetest checks that a [webhook.Store] keeps the contract
// written on that interface: the in-memory store, the SQLite and Postgres
// stores, and any store a user writes or wraps (for metrics, logging or
// custom persistence) run the same suite with one call.
//
// It uses only the standard library's testing package, so importing it
// pulls in nothing else.
//
// # Running the suite
//
// In a _test.go file, hand [Run] a function that returns a fresh, empty
// store for each subtest, and close the store in a cleanup:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) webhook.Store {
//			s, err := mystore.Open(filepath.Join(t.TempDir(), "webhooks.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return &metricsStore{Store: s}
//		})
//	}
//
// Run it with the race detector: go test -race ./...
//
// # What the suite assumes
//
//   - Each call of newStore returns a store that holds no delivery, or at
//     least one whose List, Claim, NextDue and Purge see none of another
//     store's deliveries (a fresh file, schema or database per call).
//   - Times round-trip to the microsecond: a store keeps at least
//     microsecond precision. The suite's times are whole microseconds and
//     are compared with [time.Time.Equal], so a store may return them in
//     another location (UTC, say). Durations are whole microseconds too.
//   - Byte slices compare by content: nil and empty are the same.
//   - Delivery IDs are short ASCII strings such as "msg_st_0001"; tokens
//     are opaque and only compared for equality.
//   - Subtests run one after another, never in parallel, so newStore may
//     share a server between them. The concurrency subtest runs eight
//     goroutines on one store, with a few hundred operations, so that it
//     stays quick on a database under -race.
//   - No subtest sleeps or reads the clock: every time it passes is fixed,
//     around 15 January 2026.
//
// # Points the suite pins down
//
// Some of what it checks follows from the contract without being spelled
// out on the interface:
//
//   - Insert keeps the ID it is given (the Dispatcher makes IDs) and
//     returns it.
//   - A delivery is due at its NextAttemptAt exactly, and an expired claim
//     may be taken over at its LeaseUntil exactly, since NextDue reports
//     those times as when Claim could return it.
//   - A lease that has expired still holds until a Claim takes the delivery
//     over: its token can record the outcome until then.
//   - A purged delivery's idempotency key is free again, as
//     [webhook.WithIdempotencyKey] says.
//   - A claim is refused with ErrClaimLost once it was recorded or released,
//     and a token works only for the delivery it was given for.
//
// The suite checks what the contract promises and nothing incidental: it
// does not look at the format of tokens, the text of errors (only which
// sentinel they wrap), the order of the slice Claim returns (only which
// deliveries it claims), or the start time and error text a store logs for
// an interrupted attempt.
package storetest

import (
	"testing"

	"github.com/stratakit/webhook"
)

// Run runs the conformance suite against the stores newStore makes, as
// subtests of t named by area and case ("Claim/NotYetDue"). newStore is
// called once per subtest and must return a store holding no delivery;
// it should register any cleanup (closing the store) with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	t.Helper()
	for _, group := range groups {
		t.Run(group.name, func(t *testing.T) {
			for _, c := range group.cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(newHarness(t, newStore(t)))
				})
			}
		})
	}
}

// A testCase is one subtest; a group is one area of the contract.
type testCase struct {
	name string
	run  func(h *harness)
}

type group struct {
	name  string
	cases []testCase
}

// groups lists every subtest, in the order they run.
var groups = []group{
	{"Insert", insertCases},
	{"Claim", claimCases},
	{"Lease", leaseCases},
	{"Record", recordCases},
	{"NextDue", nextDueCases},
	{"List", listCases},
	{"Purge", purgeCases},
	{"Concurrency", concurrencyCases},
	{"Context", contextCases},
}
