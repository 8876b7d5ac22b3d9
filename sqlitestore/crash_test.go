package sqlitestore_test

// The crash test: a sender in a child process (crashchild_test.go) is
// killed with SIGKILL while deliveries are in flight, over several rounds,
// and restarted on the same SQLite file each time. The parent runs the
// receiver and waits only on signals: a request arriving, a line on the
// child's stdout, the child's exit.

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/sqlitestore"
)

const (
	crashRounds      = 5  // children killed, each after sending a batch
	crashBatch       = 8  // deliveries sent by each killed child
	crashFailPercent = 40 // share of requests the receiver answers with 500
	crashBrokenEvery = 8  // one production in so many always gets 500
	crashDefaultSeed = 20260115
	// crashWait bounds each wait of the parent in real time: a safety net
	// against a hang, never a pace.
	crashWait = time.Minute
)

// TestCrashRecovery kills a sending process at seeded moments and checks
// that no delivery accepted by Send is lost, that each ends delivered or
// failed, and that the receiver saw what the attempt log says.
//
// Round r starts a child that sends the productions crash-r<r>-0 to
// crash-r<r>-7, and again those of earlier rounds whose Send a kill cut
// short (the production ID is the idempotency key, so a Send the dead
// child had committed returns its delivery), then keeps delivering. The
// receiver holds the k-th request of the round unanswered (k drawn from
// the seed, 1 to 8: at least the round's own first attempts arrive), and
// the parent kills the child with SIGKILL while it holds it. Other
// requests are answered as they come, so a kill may also cut Sends and
// attempts anywhere else. After the last round a final child sends what
// is left and runs until no delivery is pending. The receiver answers 500
// or 200 by a seeded function of the production and the attempt number,
// so each production's fate does not depend on timing.
//
// WEBHOOK_CRASH_SEED replays another seed.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped under -short: it kills and restarts a sender " +
			"in child processes for a few seconds")
	}
	seed := uint64(crashDefaultSeed)
	if s := os.Getenv("WEBHOOK_CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "WEBHOOK_CRASH_SEED")
	}
	t.Logf("seed %d (set WEBHOOK_CRASH_SEED to replay another)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	path := filepath.Join(t.TempDir(), "webhooks.db")
	recv := newCrashReceiver(t, seed)
	var (
		lives []life
		sent  = map[string]string{} // delivery ID by production, as printed
		by    = map[string]int{}    // the life that printed it, by production
	)
	collect := func(c *child) {
		for p, id := range c.out.sentIDs() {
			sent[p], by[p] = id, len(lives)
		}
		lives = append(lives, c.life)
	}

	// toSend lists the productions of the rounds so far whose Send has not
	// been seen to return nil.
	var productions []string
	toSend := func() []string {
		var out []string
		for _, p := range productions {
			if _, ok := sent[p]; !ok {
				out = append(out, p)
			}
		}
		return out
	}

	for round := range crashRounds {
		k := 1 + rng.IntN(crashBatch)
		held := recv.arm(round, k)
		for j := range crashBatch {
			productions = append(productions, fmt.Sprintf("crash-r%d-%d", round, j))
		}
		batch := toSend()
		c := startChild(t, path, recv.url(), batch)
		select {
		case <-held:
		case <-c.exited:
			t.Fatalf("round %d: the child exited before its kill: %v\n%s", round, c.err,
				c.stderr.String())
		case <-time.After(crashWait):
			t.Fatalf("round %d: request %d of the round did not arrive within %v", round,
				k, crashWait)
		}
		c.kill(t)
		recv.release()
		collect(c)
		t.Logf("round %d: killed after request %d of the round; %d of %d sends "+
			"returned first", round, k, len(c.out.sentIDs()), len(batch))
	}

	recv.arm(crashRounds, 0)
	last := startChild(t, path, recv.url(), toSend())
	select {
	case <-last.out.idle:
	case <-last.exited:
		t.Fatalf("the last child exited before the work was done: %v\n%s", last.err,
			last.stderr.String())
	case <-time.After(crashWait):
		t.Fatalf("deliveries still pending after %v", crashWait)
	}
	last.end(t)
	collect(last)
	require.Len(t, sent, crashRounds*crashBatch, "every production sent in the end")

	checkCrashOutcome(t, path, sent, by, recv.seen(), lives)
}

// life is when a child ran, as the parent saw it: from just before its
// start to just after its exit.
type life struct {
	start, end time.Time
	killed     bool
}

// child is one run of the test binary as TestCrashChild.
type child struct {
	cmd    *exec.Cmd
	stdin  interface{ Close() error }
	out    *childOutput
	stderr bytes.Buffer
	exited chan struct{} // closed once the child has exited
	err    error         // Wait's, once exited is closed
	life   life
}

// startChild runs a child that sends the given productions, and kills it
// when the test ends if it still runs.
func startChild(t *testing.T, path, url string, productions []string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1",
		"-test.timeout=2m")
	cmd.Env = append(os.Environ(),
		envCrashChild+"=1",
		envCrashDB+"="+path,
		envCrashURL+"="+url,
		envCrashSend+"="+strings.Join(productions, ","))
	c := &child{cmd: cmd, out: newChildOutput(), exited: make(chan struct{})}
	cmd.Stdout = c.out
	cmd.Stderr = &c.stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	c.stdin = stdin

	c.life.start = time.Now()
	require.NoError(t, cmd.Start())
	go func() {
		c.err = cmd.Wait()
		c.life.end = time.Now()
		close(c.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// kill ends the child with SIGKILL and waits for it to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.exited
	c.life.killed = true
	var exit *exec.ExitError
	require.ErrorAs(t, c.err, &exit)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL,
		"the child ended otherwise: %v\n%s", c.err, c.stderr.String())
}

// end closes the child's stdin, which stops it gracefully, and checks that
// it exits cleanly.
func (c *child) end(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	select {
	case <-c.exited:
	case <-time.After(crashWait):
		t.Fatalf("the last child did not stop within %v", crashWait)
	}
	require.NoError(t, c.err, "the last child:\n%s", c.stderr.String())
}

// childOutput reads a child's stdout line by line.
type childOutput struct {
	mu       sync.Mutex
	partial  []byte
	sent     map[string]string
	idle     chan struct{} // closed on lineIdle
	idleOnce sync.Once
}

func newChildOutput() *childOutput {
	return &childOutput{sent: map[string]string{}, idle: make(chan struct{})}
}

func (o *childOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		switch {
		case strings.HasPrefix(line, lineSent):
			if f := strings.Fields(strings.TrimPrefix(line, lineSent)); len(f) == 2 {
				o.sent[f[0]] = f[1]
			}
		case line == lineIdle:
			o.idleOnce.Do(func() { close(o.idle) })
		}
	}
}

// sentIDs returns the deliveries the child printed, by production.
func (o *childOutput) sentIDs() map[string]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]string, len(o.sent))
	for p, id := range o.sent {
		out[p] = id
	}
	return out
}

// crashReceiver is the webhook endpoint of the crash test, on loopback. It
// records every request and can hold one request of a round unanswered
// until the parent has killed the child.
type crashReceiver struct {
	srv  *httptest.Server
	seed uint64
	stop chan struct{} // closed at the end: frees a held handler

	mu      sync.Mutex
	seenReq []seenRequest
	round   int
	count   int           // requests arrived in this round
	holdAt  int           // the request of the round to hold; 0 for none
	held    chan struct{} // receives when it arrives
	freed   chan struct{} // closed once the child is dead
}

// seenRequest is one request as the receiver saw it.
type seenRequest struct {
	seq        int // arrival order, from 0
	round      int
	deliveryID string
	production string
	number     int // X-StrataKit-Delivery
	status     int // the reply; 0 for a request held until its sender died
}

func newCrashReceiver(t *testing.T, seed uint64) *crashReceiver {
	r := &crashReceiver{seed: seed, stop: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.srv.Start()
	t.Cleanup(func() {
		close(r.stop)
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

func (r *crashReceiver) url() string { return r.srv.URL + "/hooks" }

// arm starts a round in which the k-th request is held; k of 0 holds
// none. The returned channel receives when the held request arrives.
func (r *crashReceiver) arm(round, k int) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.round, r.count, r.holdAt = round, 0, k
	r.held = make(chan struct{}, 1)
	r.freed = make(chan struct{})
	return r.held
}

// release lets the held request's handler return, without a reply.
func (r *crashReceiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.freed)
}

// reply is the status for attempt n of a production, drawn from the seed:
// 500 always for one production in crashBrokenEvery, whose delivery ends
// failed, and for a crashFailPercent share of the others' attempts; 200
// otherwise.
func (r *crashReceiver) reply(production string, n int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(production))
	rng := rand.New(rand.NewPCG(r.seed, h.Sum64()))
	if rng.IntN(crashBrokenEvery) == 0 {
		return http.StatusInternalServerError
	}
	rng = rand.New(rand.NewPCG(r.seed, h.Sum64()+uint64(n)))
	if rng.IntN(100) < crashFailPercent {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

func (r *crashReceiver) serve(w http.ResponseWriter, req *http.Request) {
	n, _ := strconv.Atoi(req.Header.Get(webhook.HeaderDelivery))
	s := seenRequest{
		deliveryID: req.Header.Get(webhook.HeaderWebhookID),
		production: req.Header.Get(webhook.HeaderProductionID),
		number:     n,
	}

	r.mu.Lock()
	s.seq, s.round = len(r.seenReq), r.round
	r.count++
	hold := r.count == r.holdAt
	if !hold {
		s.status = r.reply(s.production, n)
	}
	r.seenReq = append(r.seenReq, s)
	held, freed := r.held, r.freed
	r.mu.Unlock()

	if hold {
		held <- struct{}{}
		select {
		case <-freed:
		case <-r.stop:
		}
		panic(http.ErrAbortHandler) // no reply: the sender is dead
	}
	w.WriteHeader(s.status)
}

// seen returns the requests in arrival order.
func (r *crashReceiver) seen() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seenReq)
}

// checkCrashOutcome checks the file and the receiver's record once every
// child has exited, and logs the figures.
//
// A request is "in flight at a kill" when its attempt is logged as
// interrupted and the interrupted attempt started (was claimed) while a
// child that was then killed ran: its process died before it could record
// an outcome. Those are the only requests allowed to be repeated: an
// attempt number seen twice for one delivery, or an event answered 200 and
// sent again.
func checkCrashOutcome(t *testing.T, path string, sent map[string]string,
	by map[string]int, seen []seenRequest, lives []life) {
	t.Helper()
	s, err := sqlitestore.Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := context.Background()

	all, err := s.List(ctx, webhook.Filter{Limit: 10 * crashRounds * crashBatch})
	require.NoError(t, err)
	byID := map[string]webhook.Delivery{}
	logs := map[string][]webhook.Attempt{}
	for _, d := range all {
		byID[d.ID] = d
		log, err := s.Attempts(ctx, d.ID)
		require.NoError(t, err)
		logs[d.ID] = log
	}

	// None vanished: every printed delivery is in the file, final. One
	// stored before the life that printed it was stored by a child killed
	// before its Send returned, and found again by its idempotency key.
	recovered := 0
	for p, id := range sent {
		d, ok := byID[id]
		require.True(t, ok, "delivery %s of %s, accepted by Send, is not in the file", id, p)
		require.Equal(t, p, d.ProductionID)
		if d.CreatedAt.Before(lives[by[p]].start) {
			recovered++
		}
	}
	require.Len(t, all, len(sent), "deliveries in the file against those printed")
	var delivered, failed int
	productions := map[string]bool{}
	for _, d := range all {
		require.False(t, productions[d.ProductionID], "two deliveries of %s", d.ProductionID)
		productions[d.ProductionID] = true
		switch d.Status {
		case webhook.StatusDelivered:
			delivered++
		case webhook.StatusFailed:
			failed++
			require.Equal(t, crashMaxAttempts, d.Attempts, "%s failed early", d.ID)
		default:
			t.Fatalf("delivery %s of %s is %s after the last child", d.ID,
				d.ProductionID, d.Status)
		}
	}

	// Each attempt log is numbered 1..Attempts; an interrupted attempt
	// started while a child that was killed ran.
	inKilledLife := func(at time.Time) bool {
		for _, l := range lives {
			if l.killed && !at.Before(l.start) && !at.After(l.end) {
				return true
			}
		}
		return false
	}
	var interrupted, noReply int
	for id, log := range logs {
		d := byID[id]
		require.Len(t, log, d.Attempts, "attempt log of %s", id)
		for i, a := range log {
			require.Equal(t, i+1, a.Number, "attempt log of %s", id)
			if a.Interrupted {
				interrupted++
				require.True(t, inKilledLife(a.StartedAt),
					"attempt %d of %s interrupted, but started at %v, when no child "+
						"that was killed ran", a.Number, id, a.StartedAt)
				continue
			}
			if a.StatusCode == 0 {
				noReply++ // no status line within the attempt timeout
			}
		}
		if d.Status == webhook.StatusDelivered {
			final := log[len(log)-1]
			require.False(t, final.Interrupted, "%s delivered by an interrupted attempt", id)
			require.Equal(t, http.StatusOK, final.StatusCode, "%s delivered", id)
		}
	}

	// The receiver's view against the log.
	requests := map[string][]seenRequest{}
	var heldCount int
	for _, r := range seen {
		require.Contains(t, byID, r.deliveryID, "request for a delivery not in the file")
		require.Equal(t, byID[r.deliveryID].ProductionID, r.production)
		requests[r.deliveryID] = append(requests[r.deliveryID], r)
		if r.status == 0 {
			heldCount++
		}
	}
	var repeatedNumbers, repeatedEvents int
	for id, log := range logs {
		reqs := requests[id]
		require.NotEmpty(t, reqs, "the receiver never saw %s (%s)", id, byID[id].ProductionID)
		// interruptedAt reports whether attempt n was in flight at a kill.
		interruptedAt := func(n int) bool {
			return log[n-1].Interrupted && inKilledLife(log[n-1].StartedAt)
		}
		for i, r := range reqs {
			require.LessOrEqual(t, r.number, len(log),
				"%s: request numbered %d, beyond its attempt log", id, r.number)
			a := log[r.number-1]
			if !a.Interrupted && a.StatusCode != 0 {
				require.Equal(t, r.status, a.StatusCode,
					"%s attempt %d: logged status against the reply", id, r.number)
			}
			if r.status == 0 {
				require.True(t, a.Interrupted || a.StatusCode == 0,
					"%s attempt %d: held unanswered, yet logged as %d", id, r.number,
					a.StatusCode)
			}
			if i == 0 {
				continue
			}
			prev := reqs[i-1]
			switch {
			case r.number > prev.number:
			case r.number == prev.number && interruptedAt(prev.number):
				repeatedNumbers++
			default:
				t.Fatalf("%s: attempt %d arrived after attempt %d", id, r.number,
					prev.number)
			}
		}

		// An event accepted with 200 is sent again only when the
		// accepting attempt was in flight at a kill.
		var accepted []int
		for _, r := range reqs {
			if r.status == http.StatusOK {
				accepted = append(accepted, r.number)
			}
		}
		for _, n := range accepted[:max(len(accepted)-1, 0)] {
			require.True(t, interruptedAt(n),
				"%s: attempt %d got 200, was recorded, yet the event was sent again",
				id, n)
			repeatedEvents++
		}
	}

	t.Logf("%d kills, %d deliveries accepted by Send (%d of them stored by a child "+
		"killed before Send returned, found again by the idempotency key): %d "+
		"delivered, %d failed", crashRounds, len(sent), recovered, delivered, failed)
	t.Logf("%d requests; %d held at a kill; %d attempts logged as interrupted; %d "+
		"without a reply in time; %d attempt numbers seen twice; %d events received "+
		"again after a 200", len(seen), heldCount, interrupted, noReply,
		repeatedNumbers, repeatedEvents)
	require.Positive(t, interrupted, "no attempt was interrupted: the kills hit nothing")
	require.Equal(t, crashRounds, countKilled(lives))
}

func countKilled(lives []life) int {
	n := 0
	for _, l := range lives {
		if l.killed {
			n++
		}
	}
	return n
}
