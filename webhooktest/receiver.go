package webhooktest

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is one request as a [Receiver] received it.
type Request struct {
	// N is the request's number in arrival order, from 1.
	N int
	// Method, Target and Path are the request's method, its request-target
	// as sent ("/hook?x=1") and the target's path.
	Method string
	Target string
	Path   string
	// Host is the Host header's value.
	Host string
	// Header is the header as Go's server parsed it: names are in canonical
	// form, so "X-StrataKit-Delivery" is found as "X-Stratakit-Delivery".
	// Header.Get finds any spelling.
	Header http.Header
	// RawHeader holds the header lines in the order and with the names
	// spelled as they were sent, for checking a sender's spelling; see
	// [Request.WireName]. It is nil if they could not be read.
	RawHeader []HeaderField
	// Body is the request's body.
	Body []byte
	// RemoteAddr is the client's address; requests over one connection
	// share it, so it shows whether the client reused connections.
	RemoteAddr string
	// Time is when the request arrived: the Receiver's Clock's time if it
	// has one, real time otherwise.
	Time time.Time
}

// WireName returns the header name matching name, in any case, as it was
// spelled on the wire, and whether the request had such a header.
func (r Request) WireName(name string) (string, bool) {
	for _, f := range r.RawHeader {
		if strings.EqualFold(f.Name, name) {
			return f.Name, true
		}
	}
	return "", false
}

// ReceiverOption configures a Receiver.
type ReceiverOption func(*receiverOptions)

type receiverOptions struct {
	clock *Clock
	tls   bool
}

// WithClock stamps each request's Time with c's time instead of real time.
func WithClock(c *Clock) ReceiverOption {
	return func(o *receiverOptions) { o.clock = c }
}

// WithTLS serves https with a self-signed certificate for 127.0.0.1, ::1
// and localhost, instead of plain http. [Receiver.Client] returns a client
// that trusts it; give that client to the code under test.
func WithTLS() ReceiverOption {
	return func(o *receiverOptions) { o.tls = true }
}

// Receiver is a webhook endpoint for tests: an HTTP server on the loopback
// interface that records every request and answers by a script. It is safe
// for concurrent use.
//
// By default every request gets 200 with an empty body. [Receiver.Script],
// [Receiver.Always], [Receiver.FailTimes] and [Receiver.Respond] change
// that; each replaces the script set before, and takes effect for the
// requests that arrive after it returns. Scripts count requests by their
// number N since the Receiver started, so set one before sending.
//
// The server speaks HTTP/1.1 only, so that header names can be recorded as
// spelled on the wire.
type Receiver struct {
	srv    *httptest.Server
	url    string
	client *http.Client
	clock  *Clock
	stop   chan struct{} // closed by Close to release hanging handlers
	once   sync.Once

	mu       sync.Mutex
	respond  func(Request) Response
	requests []Request
	changed  broadcast
}

// NewReceiver starts a Receiver on 127.0.0.1 (or ::1 where IPv4 is
// missing) and registers its Close with tb.Cleanup. It fails the test if
// the server cannot start.
func NewReceiver(tb TB, opts ...ReceiverOption) *Receiver {
	tb.Helper()
	var o receiverOptions
	for _, opt := range opts {
		opt(&o)
	}

	r := &Receiver{clock: o.clock, stop: make(chan struct{})}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ConnContext = withTapConn
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}
	if o.tls {
		config, pool, err := newTLSConfig()
		if err != nil {
			r.srv.Close()
			tb.Fatalf("webhooktest: start receiver: %v", err)
		}
		// The TLS layer sits under the tap, so that the tap sees the
		// decrypted stream; the server then treats connections as plain.
		r.srv.Listener = tapListener{tls.NewListener(r.srv.Listener, config)}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	} else {
		r.srv.Listener = tapListener{r.srv.Listener}
	}
	r.srv.Start()
	r.url = r.srv.URL
	if o.tls {
		r.url = "https://" + strings.TrimPrefix(r.srv.URL, "http://")
	}
	r.client = &http.Client{Transport: transport}
	tb.Cleanup(r.Close)
	return r
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234",
// without a trailing slash. Requests to any path are accepted.
func (r *Receiver) URL() string {
	return r.url
}

// Client returns a client for the server that trusts its certificate when
// it serves https. It has its own *http.Transport; Close closes its idle
// connections.
func (r *Receiver) Client() *http.Client {
	return r.client
}

// Script answers request n with steps[n-1] and the requests after the last
// step with 200.
func (r *Receiver) Script(steps ...Response) {
	steps = append([]Response(nil), steps...)
	r.Respond(func(req Request) Response {
		if req.N <= len(steps) {
			return steps[req.N-1]
		}
		return Response{}
	})
}

// Always answers every request with resp.
func (r *Receiver) Always(resp Response) {
	r.Respond(func(Request) Response { return resp })
}

// FailTimes answers the first n requests with 500 and the others with 200.
func (r *Receiver) FailTimes(n int) {
	r.Respond(func(req Request) Response {
		if req.N <= n {
			return Status(http.StatusInternalServerError)
		}
		return Response{}
	})
}

// Respond answers each request with what f returns for it. f sees the
// request as recorded, body included; it is called from the server's
// goroutines, possibly at the same time for different requests, and must
// not block. A nil f restores the default, 200 for every request.
func (r *Receiver) Respond(f func(Request) Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.respond = f
}

// Requests returns the requests received so far, in arrival order. The
// requests share their headers and bodies with the Receiver's record: read
// them, do not change them.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// WaitRequests blocks until at least n requests have arrived and returns
// the first n. It fails the test if that takes longer than [WaitLimit] of
// real time. Call it from the goroutine running the test.
func (r *Receiver) WaitRequests(tb TB, n int) []Request {
	tb.Helper()
	ctx, cancel := limitContext()
	defer cancel()
	got := 0
	err := waitUntil(ctx, &r.mu, func() (bool, <-chan struct{}) {
		got = len(r.requests)
		return got >= n, r.changed.wait()
	})
	if err != nil {
		tb.Fatalf("webhooktest: waited %v for %d requests, %d arrived", limit(), n, got)
		return nil
	}
	return r.Requests()[:max(n, 0)]
}

// Close releases the requests that hang or stall, closes every connection,
// shuts the server down and closes the idle connections of Client. It is
// registered with the test's Cleanup by NewReceiver and may be called more
// than once.
func (r *Receiver) Close() {
	r.once.Do(func() {
		close(r.stop)
		// A handler blocked writing to a client that stopped reading
		// returns only once its connection is closed.
		r.srv.CloseClientConnections()
		r.srv.Close()
		r.client.CloseIdleConnections()
	})
}

// serve records a request and answers it by the script.
func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw := rawHeader(req)
	body, _ := io.ReadAll(req.Body)
	at := time.Now()
	if r.clock != nil {
		at = r.clock.Now()
	}
	rec := Request{
		Method:     req.Method,
		Target:     req.RequestURI,
		Path:       req.URL.Path,
		Host:       req.Host,
		Header:     req.Header.Clone(),
		RawHeader:  raw,
		Body:       body,
		RemoteAddr: req.RemoteAddr,
		Time:       at,
	}

	r.mu.Lock()
	rec.N = len(r.requests) + 1
	r.requests = append(r.requests, rec)
	respond := r.respond
	r.changed.signal()
	r.mu.Unlock()

	resp := Response{}
	if respond != nil {
		resp = respond(rec)
	}
	resp.write(w, req, r.stop)
}
