package webhooktest_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook/webhooktest"
)

// post sends a POST with the given header, set without canonicalization,
// and returns the status and the body.
func post(t *testing.T, client *http.Client, url string, header map[string]string,
	body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	for name, value := range header {
		req.Header[name] = []string{value}
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(got)
}

func TestReceiverRecords(t *testing.T) {
	t.Parallel()

	clock := webhooktest.NewClock(time.Time{})
	rcv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	require.True(t, strings.HasPrefix(rcv.URL(), "http://127.0.0.1:"), rcv.URL())

	resp, _ := post(t, rcv.Client(), rcv.URL()+"/hooks/a?token=x",
		map[string]string{"X-StrataKit-Delivery": "1", "webhook-id": "msg_1"}, `{"n":1}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	clock.Advance(time.Second)
	post(t, rcv.Client(), rcv.URL()+"/hooks/b",
		map[string]string{"X-StrataKit-Delivery": "2"}, `{"n":2}`)

	got := rcv.WaitRequests(t, 2)
	require.Len(t, got, 2)
	first, second := got[0], got[1]
	require.Equal(t, 1, first.N)
	require.Equal(t, http.MethodPost, first.Method)
	require.Equal(t, "/hooks/a?token=x", first.Target)
	require.Equal(t, "/hooks/a", first.Path)
	require.Equal(t, strings.TrimPrefix(rcv.URL(), "http://"), first.Host)
	require.Equal(t, `{"n":1}`, string(first.Body))
	require.Equal(t, clock.Now().Add(-time.Second), first.Time)

	// Go's server canonicalizes names; the raw header keeps the spelling.
	require.Equal(t, "1", first.Header.Get("X-StrataKit-Delivery"))
	require.Contains(t, first.Header, "X-Stratakit-Delivery")
	require.Contains(t, first.Header, "Webhook-Id")
	name, ok := first.WireName("x-stratakit-delivery")
	require.True(t, ok)
	require.Equal(t, "X-StrataKit-Delivery", name)
	name, ok = first.WireName("WEBHOOK-ID")
	require.True(t, ok)
	require.Equal(t, "webhook-id", name)
	_, ok = first.WireName("webhook-signature")
	require.False(t, ok)
	require.Contains(t, first.RawHeader, webhooktest.HeaderField{Name: "webhook-id", Value: "msg_1"})

	require.Equal(t, 2, second.N)
	require.Equal(t, "/hooks/b", second.Target)
	require.Equal(t, `{"n":2}`, string(second.Body))
	require.Equal(t, clock.Now(), second.Time)
	name, _ = second.WireName("X-STRATAKIT-DELIVERY")
	require.Equal(t, "X-StrataKit-Delivery", name)

	// Both went over one kept-alive connection.
	require.Equal(t, first.RemoteAddr, second.RemoteAddr)
	require.Equal(t, got, rcv.Requests())
}

// TestReceiverRawHeaderStream sends pipelined requests by hand, with
// chunked and fixed-length bodies, so that the raw header of each is found
// in one connection's stream.
func TestReceiverRawHeaderStream(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(rcv.URL(), "http://"))
	require.NoError(t, err)
	defer conn.Close()

	stream := "POST /one HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" +
		"x-LOWER-upper: 1\r\n\r\n" +
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-Name: t\r\n\r\n" +
		"\r\n" + // a stray empty line between requests is allowed
		"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n" +
		"X-StrataKit-Delivery: 2\r\n\r\n" +
		"Line\r\n\r\n!" + // a body that looks like the end of a header
		"GET /three HTTP/1.1\r\nHost: a\nwebhook-id:msg_3 \r\n\r\n"
	_, err = io.WriteString(conn, stream)
	require.NoError(t, err)

	reader := bufio.NewReader(conn)
	for range 3 {
		resp, err := http.ReadResponse(reader, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}

	got := rcv.WaitRequests(t, 3)
	require.Equal(t, "hello world", string(got[0].Body))
	require.Equal(t, []webhooktest.HeaderField{
		{Name: "Host", Value: "a"},
		{Name: "Transfer-Encoding", Value: "chunked"},
		{Name: "x-LOWER-upper", Value: "1"},
	}, got[0].RawHeader)
	require.Equal(t, "Line\r\n\r\n!", string(got[1].Body))
	require.Equal(t, []webhooktest.HeaderField{
		{Name: "Host", Value: "a"},
		{Name: "Content-Length", Value: "9"},
		{Name: "X-StrataKit-Delivery", Value: "2"},
	}, got[1].RawHeader)
	require.Equal(t, "/three", got[2].Path)
	require.Equal(t, []webhooktest.HeaderField{
		{Name: "Host", Value: "a"},
		{Name: "webhook-id", Value: "msg_3"},
	}, got[2].RawHeader)
}

func TestReceiverScripts(t *testing.T) {
	t.Parallel()

	type reply struct {
		status int
		header map[string]string
		body   string
	}
	ok := reply{status: http.StatusOK}
	tests := []struct {
		name   string
		script func(r *webhooktest.Receiver)
		want   []reply
	}{
		{
			name:   "default answers 200",
			script: func(*webhooktest.Receiver) {},
			want:   []reply{ok, ok},
		},
		{
			name:   "fail times",
			script: func(r *webhooktest.Receiver) { r.FailTimes(2) },
			want:   []reply{{status: 500}, {status: 500}, ok, ok},
		},
		{
			name: "script by request number",
			script: func(r *webhooktest.Receiver) {
				r.Script(
					webhooktest.RetryAfter(http.StatusTooManyRequests, "7"),
					webhooktest.Redirect(http.StatusFound, "/elsewhere"),
					webhooktest.Text(http.StatusServiceUnavailable, "busy"),
					webhooktest.Status(http.StatusNoContent),
				)
			},
			want: []reply{
				{status: 429, header: map[string]string{"Retry-After": "7"}},
				{status: 302, header: map[string]string{"Location": "/elsewhere"}},
				{status: 503, body: "busy"},
				{status: 204},
				ok,
			},
		},
		{
			name: "always",
			script: func(r *webhooktest.Receiver) {
				r.Always(webhooktest.RetryAfter(http.StatusServiceUnavailable,
					"Wed, 21 Oct 2026 07:28:00 GMT"))
			},
			want: []reply{
				{status: 503, header: map[string]string{"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}},
				{status: 503, header: map[string]string{"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}},
			},
		},
		{
			name: "respond by request",
			script: func(r *webhooktest.Receiver) {
				r.Respond(func(req webhooktest.Request) webhooktest.Response {
					if string(req.Body) == "fail" {
						return webhooktest.Status(http.StatusBadRequest)
					}
					return webhooktest.Text(http.StatusAccepted, req.Path)
				})
			},
			want: []reply{{status: 202, body: "/hook"}, {status: 400}, {status: 202, body: "/hook"}},
		},
		{
			name: "nil respond restores the default",
			script: func(r *webhooktest.Receiver) {
				r.FailTimes(5)
				r.Respond(nil)
			},
			want: []reply{ok},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := webhooktest.NewReceiver(t)
			tt.script(rcv)
			client := rcv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}
			for i, want := range tt.want {
				body := "ok"
				if i == 1 {
					body = "fail"
				}
				resp, got := post(t, client, rcv.URL()+"/hook", nil, body)
				require.Equal(t, want.status, resp.StatusCode, "request %d", i+1)
				require.Equal(t, want.body, got, "request %d", i+1)
				for name, value := range want.header {
					require.Equal(t, value, resp.Header.Get(name), "request %d", i+1)
				}
			}
			require.Len(t, rcv.Requests(), len(tt.want))
		})
	}
}

func TestReceiverHangUntilClientGivesUp(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t)
	rcv.Script(webhooktest.Hang())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rcv.URL(), strings.NewReader("x"))
		resp, err := rcv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()

	rcv.WaitRequests(t, 1)
	select {
	case err := <-done:
		t.Fatalf("a hanging request returned: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// The next request is answered as usual.
	resp, _ := post(t, rcv.Client(), rcv.URL(), nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestReceiverCloseReleasesStalledHandlers(t *testing.T) {
	t.Parallel()

	steps := []struct {
		name string
		resp webhooktest.Response
	}{
		{"hang", webhooktest.Hang()},
		{"slow body", webhooktest.SlowBody()},
		{"endless body", webhooktest.EndlessBody()},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			t.Parallel()
			rcv := webhooktest.NewReceiver(t)
			rcv.Always(step.resp)
			type result struct {
				resp *http.Response
				err  error
			}
			done := make(chan result, 1)
			go func() {
				// A client that never gives up and never reads the body.
				resp, err := rcv.Client().Post(rcv.URL(), "text/plain", nil)
				done <- result{resp, err}
			}()
			rcv.WaitRequests(t, 1)
			rcv.Close()
			rcv.Close()
			got := <-done
			if got.err == nil {
				require.NoError(t, got.resp.Body.Close())
			}
		})
	}
}

func TestReceiverSlowBody(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t)
	rcv.Always(webhooktest.SlowBody())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rcv.URL(), nil)
	require.NoError(t, err)

	// The status line and the first bytes come at once, then nothing.
	resp, err := rcv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	first := make([]byte, len(`{"partial":`))
	_, err = io.ReadFull(resp.Body, first)
	require.NoError(t, err)
	require.Equal(t, `{"partial":`, string(first))

	read := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 1))
		read <- err
	}()
	cancel()
	require.ErrorIs(t, <-read, context.Canceled)
}

func TestReceiverEndlessBody(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t)
	rcv.Always(webhooktest.EndlessBody())
	resp, err := rcv.Client().Post(rcv.URL(), "text/plain", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int64(-1), resp.ContentLength)
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	require.NoError(t, err)
	require.Equal(t, int64(4<<20), n)
	require.NoError(t, resp.Body.Close())
}

func TestReceiverHugeBody(t *testing.T) {
	t.Parallel()

	const size = 10<<20 + 7
	rcv := webhooktest.NewReceiver(t)
	rcv.Script(webhooktest.HugeBody(size), webhooktest.HugeBody(-1))
	resp, err := rcv.Client().Get(rcv.URL())
	require.NoError(t, err)
	require.Equal(t, int64(size), resp.ContentLength)
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.Equal(t, int64(size), n)
	require.NoError(t, resp.Body.Close())

	_, body := post(t, rcv.Client(), rcv.URL(), nil, "")
	require.Empty(t, body)
}

func TestReceiverTLS(t *testing.T) {
	t.Parallel()

	rcv := webhooktest.NewReceiver(t, webhooktest.WithTLS())
	require.True(t, strings.HasPrefix(rcv.URL(), "https://127.0.0.1:"), rcv.URL())
	rcv.FailTimes(1)

	header := map[string]string{"webhook-id": "msg_tls"}
	resp, _ := post(t, rcv.Client(), rcv.URL()+"/tls", header, "{}")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	resp, _ = post(t, rcv.Client(), rcv.URL()+"/tls", header, "{}")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	got := rcv.WaitRequests(t, 2)
	require.Equal(t, "{}", string(got[1].Body))
	name, ok := got[1].WireName("Webhook-Id")
	require.True(t, ok)
	require.Equal(t, "webhook-id", name)

	// A client that does not trust the certificate is refused.
	untrusting := &http.Client{Transport: &http.Transport{}}
	defer untrusting.CloseIdleConnections()
	_, err := untrusting.Get(rcv.URL())
	require.ErrorContains(t, err, "certificate")
}

// TestWaitRequestsFailsTheTest checks the safety net with a lowered limit.
// It does not run in parallel, as it changes the limit of every wait.
func TestWaitRequestsFailsTheTest(t *testing.T) {
	defer webhooktest.SetWaitLimit(20 * time.Millisecond)()

	tb := &fakeTB{}
	tb.run(func(tb webhooktest.TB) {
		rcv := webhooktest.NewReceiver(tb)
		rcv.WaitRequests(tb, 1)
		t.Error("WaitRequests returned without requests")
	})
	require.Len(t, tb.fatals, 1)
	require.Contains(t, tb.fatals[0], "for 1 requests, 0 arrived")
}
