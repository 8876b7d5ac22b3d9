package webhook

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// This file holds the URL policy, applied to every webhook URL at Send,
// before anything is stored. The addresses a host name resolves to are
// checked later, when each attempt connects (guard.go).

// MaxURLLen is the longest webhook URL accepted, in bytes.
const MaxURLLen = 2048

// checkURL applies the URL policy to a webhook URL and returns its host
// key: the lowercased host and port, with the scheme's default port filled
// in. See checkWebhookURL.
func (d *Dispatcher) checkURL(raw string) (string, error) {
	return checkWebhookURL(raw, d.cfg.AllowHTTP, d.policy)
}

// checkWebhookURL refuses, with an error wrapping ErrInvalidURL that says
// why, a URL that is too long, does not parse, is not absolute https (or
// http when allowHTTP), has no host, has an invalid port, carries user
// credentials, or whose host p refuses before any lookup: a refused IP
// literal, an odd numeric spelling of an IPv4 address, localhost, or a
// name that is not ASCII (write it in punycode). A refused host also wraps
// ErrAddressRefused. Errors show the URL with its query redacted.
func checkWebhookURL(raw string, allowHTTP bool, p *policy) (string, error) {
	if len(raw) > MaxURLLen {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidURL, len(raw), MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The url.Error's text would hold the whole URL: show its cause.
		return "", fmt.Errorf("%w: does not parse: %v", ErrInvalidURL, unwrapURLError(err))
	}
	shown := redactURL(raw)
	bad := func(why string) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidURL, shown, why)
	}

	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return "", bad("scheme http is refused; use https " +
				"(Config.AllowHTTP permits http for local development)")
		}
	case "":
		return "", bad("not an absolute URL")
	default:
		return "", bad(fmt.Sprintf("scheme %q is not https", u.Scheme))
	}
	if u.User != nil {
		return "", bad("user credentials in the URL are refused")
	}
	host := u.Hostname()
	if host == "" {
		return "", bad("no host")
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return "", bad("host is not ASCII; write an international name in " +
				"its punycode (xn--) form")
		}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", bad(fmt.Sprintf("port %q is not between 1 and 65535", port))
	}

	if _, _, err := p.checkHost(host); err != nil {
		if re, ok := err.(*refusedError); ok {
			re.url = shown
			return "", re
		}
		return "", bad(err.Error())
	}
	if !isIPLiteral(host) && !validHostName(canonicalName(host)) {
		return "", bad("host is not a valid host name")
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// redactURL returns raw with its query replaced by REDACTED and its
// fragment and user credentials dropped, for logs and errors: customers put
// tokens in query strings.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	return u.String()
}
