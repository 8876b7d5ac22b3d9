package webhook

import (
	"net"
	"net/http"
	"time"
)

// newClient returns the client the Dispatcher sends with: the caller's, if
// any, copied with its cookie jar dropped and redirects refused, or a new
// one with webhook-friendly limits. The caller's client is never changed.
func newClient(c Config) (*http.Client, error) {
	var client http.Client
	if c.Client != nil {
		client = *c.Client
	} else {
		dialer := &net.Dialer{Timeout: c.AttemptTimeout, KeepAlive: 30 * time.Second}
		client.Transport = &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          c.Workers * 2,
			MaxIdleConnsPerHost:   c.PerHostLimit,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   c.AttemptTimeout,
			ResponseHeaderTimeout: c.AttemptTimeout,
		}
	}
	client.Jar = nil
	client.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	return &client, nil
}
