package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// This file builds the http.Client the Dispatcher sends with, and puts the
// SSRF guard (guard.go) on its dialer.

// newClient returns the client the Dispatcher sends with. It never follows
// redirects and keeps no cookies. Without Config.Client it is a new client
// whose transport dials through the SSRF guard. With one, it is a copy:
// the caller's client is never changed. See guardTransport for how the
// copy's transport is guarded. A client the guard cannot hold is refused
// with an error wrapping ErrInvalidConfig that names Config.Client.
func newClient(c Config) (*http.Client, error) {
	p, err := newPolicy(c.Allow)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: c.AttemptTimeout, KeepAlive: 30 * time.Second}
	return buildClient(c, p, net.DefaultResolver.LookupNetIP, dialer.DialContext)
}

// buildClient is newClient with the guard's resolver and its dialer for
// clients without one of their own given: tests pass fakes.
func buildClient(c Config, p *policy, lookup lookupFunc, dial dialFunc) (*http.Client, error) {
	var client http.Client
	if c.Client != nil {
		client = *c.Client
	}
	rt, err := guardTransport(c, client.Transport, p, lookup, dial)
	if err != nil {
		return nil, err
	}
	client.Transport = rt
	client.Jar = nil
	client.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &client, nil
}

// guardTransport returns the transport to send with, given the caller's
// (nil when none):
//
//   - nil: a new *http.Transport built for webhooks, without a proxy, that
//     dials through the guard.
//   - an *http.Transport: a clone whose DialContext is the guard. The guard
//     resolves the host, drops refused addresses and calls the caller's
//     own DialContext (or Dial) with each allowed IP address, so the
//     caller's dialer settings are kept. A transport with a Proxy is
//     refused: the address dialed would be the proxy's, and the guard
//     could not see the webhook's. So is one with DialTLSContext or
//     DialTLS, which would dial https around the guard.
//   - anything else is refused: the guard cannot reach inside it.
//
// When Config.Allow opens every address ("0.0.0.0/0" and "::/0"), the
// guard is off and the caller's transport is used as it is, proxy
// included: something else, such as an egress proxy that enforces the
// policy, must then keep webhooks off internal networks.
func guardTransport(c Config, rt http.RoundTripper, p *policy, lookup lookupFunc,
	dial dialFunc) (http.RoundTripper, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: Client: %s", ErrInvalidConfig, why)
	}
	if p.all && rt != nil {
		return rt, nil
	}

	var t *http.Transport
	switch ct := rt.(type) {
	case nil:
		t = &http.Transport{
			ForceAttemptHTTP2:      true,
			DisableCompression:     true, // no Accept-Encoding: gzip added to the wire
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConns:           c.Workers * 2,
			MaxIdleConnsPerHost:    c.PerHostLimit,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    c.AttemptTimeout,
			ResponseHeaderTimeout:  c.AttemptTimeout,
			ExpectContinueTimeout:  time.Second,
		}
	case *http.Transport:
		switch {
		case ct.Proxy != nil:
			return nil, bad("Transport.Proxy is set; the SSRF guard would see only the " +
				"proxy's address: set Proxy to nil, or turn the guard off with " +
				`Config.Allow {"0.0.0.0/0", "::/0"} if the proxy enforces the policy`)
		case ct.DialTLSContext != nil || ct.DialTLS != nil:
			return nil, bad("Transport.DialTLSContext or DialTLS is set; it would dial " +
				"around the SSRF guard")
		}
		t = ct.Clone()
		if t.DialContext != nil {
			dial = t.DialContext
		} else if t.Dial != nil {
			plain := t.Dial
			dial = func(_ context.Context, network, addr string) (net.Conn, error) {
				return plain(network, addr)
			}
		}
	default:
		return nil, bad(fmt.Sprintf("Transport is a %T; while the SSRF guard is on it "+
			"must be nil or an *http.Transport", rt))
	}

	g := &guard{policy: p, lookup: lookup, dial: dial, budget: c.AttemptTimeout}
	t.DialContext = g.DialContext
	t.Dial = nil
	return t, nil
}
