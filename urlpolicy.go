package webhook

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// MaxURLLen is the longest webhook URL accepted, in bytes.
const MaxURLLen = 2048

// checkURL applies the URL policy to a webhook URL and returns its host key:
// the lowercased host and port, with the scheme's default port filled in.
func (d *Dispatcher) checkURL(raw string) (string, error) {
	if len(raw) > MaxURLLen {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidURL, len(raw), MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: does not parse", ErrInvalidURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !d.cfg.AllowHTTP {
			return "", fmt.Errorf("%w: scheme http is refused; use https, or set Config.AllowHTTP for local development", ErrInvalidURL)
		}
	default:
		return "", fmt.Errorf("%w: scheme %q is not https", ErrInvalidURL, u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: user credentials in the URL are refused", ErrInvalidURL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// redactURL returns raw with its query and fragment replaced, for logs and
// errors: customers put tokens in query strings.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment = ""
	u.User = nil
	return u.String()
}
