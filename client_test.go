package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loopbackServer starts a server that answers 204, or redirects on
// /redirect, and counts the requests it got.
func loopbackServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func testConfig(c Config) Config { return c.withDefaults() }

func TestNewClientDefault(t *testing.T) {
	t.Parallel()
	srv, hits := loopbackServer(t)

	// Without Allow, loopback is refused at connect time, before any dial.
	c, err := newClient(testConfig(Config{}))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	tr := c.Transport.(*http.Transport)
	require.Nil(t, tr.Proxy)
	require.Equal(t, DefaultPerHostLimit, tr.MaxIdleConnsPerHost)
	require.Nil(t, c.Jar)

	_, err = c.Post(srv.URL+"/hook?token=s3cr3t", "application/json", nil)
	require.ErrorIs(t, err, ErrAddressRefused)
	var ue *url.Error
	require.True(t, errors.As(err, &ue))
	require.ErrorContains(t, ue.Err, "address refused: host 127.0.0.1 is loopback")
	require.NotContains(t, ue.Err.Error(), "s3cr3t")
	require.Zero(t, hits.Load())

	// With loopback allowed, requests go through and redirects are not
	// followed.
	c2, err := newClient(testConfig(Config{Allow: []string{"127.0.0.1"}}))
	require.NoError(t, err)
	defer c2.CloseIdleConnections()
	resp, err := c2.Post(srv.URL+"/redirect", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, int32(1), hits.Load())
}

// TestNewClientCopiesCallers: the caller's client and transport are never
// changed; the copy drops the jar, refuses redirects, keeps the timeout,
// and dials through the guard with the caller's own dialer.
func TestNewClientCopiesCallers(t *testing.T) {
	t.Parallel()
	srv, hits := loopbackServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	var callerDials []string
	dialer := &net.Dialer{}
	callerDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		callerDials = append(callerDials, addr)
		return dialer.DialContext(ctx, network, addr)
	}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	redirectCalls := 0
	callerTransport := &http.Transport{DialContext: callerDial, MaxIdleConns: 7}
	caller := &http.Client{
		Transport: callerTransport,
		Jar:       jar,
		Timeout:   42 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			redirectCalls++
			return nil
		},
	}

	fn := newFakeNet(map[string][]string{"hooks.test": {"10.0.0.1", "127.0.0.1"}})
	c, err := buildClient(testConfig(Config{Client: caller, Allow: []string{"127.0.0.0/8"}}),
		mustPolicy(t, "127.0.0.0/8"), fn.lookup, fn.dial)
	require.NoError(t, err)
	defer c.CloseIdleConnections()

	// The caller's values are untouched.
	require.Same(t, callerTransport, caller.Transport)
	require.Same(t, jar, caller.Jar)
	require.NotNil(t, caller.CheckRedirect)
	require.Equal(t, 7, callerTransport.MaxIdleConns)
	require.NotNil(t, callerTransport.DialContext)

	// The copy.
	require.Nil(t, c.Jar)
	require.Equal(t, 42*time.Second, c.Timeout)
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	require.NotSame(t, callerTransport, tr)
	require.Equal(t, 7, tr.MaxIdleConns)

	target := "http://hooks.test:" + strconv.Itoa(port) + "/redirect"
	resp, err := c.Post(target, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Zero(t, redirectCalls)
	require.Equal(t, int32(1), hits.Load())
	// The caller's dialer was given the allowed address, never the private
	// one nor the name.
	require.Equal(t, []string{"127.0.0.1:" + strconv.Itoa(port)}, callerDials)
	require.Empty(t, fn.dialedAddrs())

	// A refused host never reaches the caller's dialer.
	_, err = c.Post("http://10.0.0.1:"+strconv.Itoa(port)+"/", "application/json", nil)
	require.ErrorIs(t, err, ErrAddressRefused)
	require.Len(t, callerDials, 1)
}

type otherTransport struct{}

func (otherTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK,
		Body: io.NopCloser(strings.NewReader(""))}, nil
}

func TestNewClientRefusesUnguardable(t *testing.T) {
	t.Parallel()
	proxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://10.0.0.1:3128") }
	cases := map[string]struct {
		transport http.RoundTripper
		want      string
	}{
		"proxy": {transport: &http.Transport{Proxy: proxy},
			want: "Client: Transport.Proxy is set"},
		"proxy from environment": {transport: &http.Transport{Proxy: http.ProxyFromEnvironment},
			want: "Client: Transport.Proxy is set"},
		"default transport clone": {transport: http.DefaultTransport.(*http.Transport).Clone(),
			want: "Client: Transport.Proxy is set"},
		"dial tls": {transport: &http.Transport{DialTLSContext: func(context.Context, string,
			string) (net.Conn, error) {
			return nil, errors.New("unused")
		}}, want: "Client: Transport.DialTLSContext or DialTLS is set"},
		"other round tripper": {transport: otherTransport{},
			want: "Client: Transport is a webhook.otherTransport"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := newClient(testConfig(Config{Client: &http.Client{Transport: tc.transport}}))
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, tc.want)

			// With the guard off, the caller's transport is used as it is.
			c, err := newClient(testConfig(Config{Client: &http.Client{Transport: tc.transport},
				Allow: []string{"0.0.0.0/0", "::/0"}}))
			require.NoError(t, err)
			require.Equal(t, tc.transport, c.Transport)
		})
	}

	_, err := newClient(testConfig(Config{Allow: []string{"not a host"}}))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "Allow[0]")
}

// TestNewClientPlainDial: a caller's transport with only the old Dial
// function still dials through the guard, with that function.
func TestNewClientPlainDial(t *testing.T) {
	t.Parallel()
	srv, _ := loopbackServer(t)
	var dials atomic.Int32
	tr := &http.Transport{Dial: func(network, addr string) (net.Conn, error) {
		dials.Add(1)
		return net.Dial(network, addr)
	}}
	c, err := newClient(testConfig(Config{Client: &http.Client{Transport: tr},
		Allow: []string{"127.0.0.1"}}))
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int32(1), dials.Load())

	c2, err := newClient(testConfig(Config{Client: &http.Client{Transport: tr}}))
	require.NoError(t, err)
	_, err = c2.Get(srv.URL)
	require.ErrorIs(t, err, ErrAddressRefused)
	require.Equal(t, int32(1), dials.Load())
}
