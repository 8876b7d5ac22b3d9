// Package benchmarks compares the stores in one run: durable Send calls
// per second from many goroutines, and end-to-end deliveries per second to
// a local receiver, on the in-memory, SQLite and Postgres stores, the last
// with one and with three Dispatchers sharing the database.
//
// It is a module of its own so that the root module never depends on the
// drivers. Run, without -race:
//
//	WEBHOOK_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	  go test -run '^$' -bench . -count 6 ./benchmarks/ | tee bench.txt
//	benchstat bench.txt
//
// Without WEBHOOK_TEST_POSTGRES the Postgres cases are skipped.
package benchmarks
