package webhook

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCheckURLHostile is the table of hostile webhook URLs: each is refused
// at Send, before anything is stored, with an error that says why.
func TestCheckURLHostile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url     string
		refused bool   // the error also wraps ErrAddressRefused
		want    string // substring of the error
	}{
		// Scheme, credentials, shape.
		{url: "http://example.com/hook", want: "scheme http is refused"},
		{url: "ftp://example.com/hook", want: `scheme "ftp" is not https`},
		{url: "gopher://127.0.0.1:25/", want: `scheme "gopher"`},
		{url: "file:///etc/passwd", want: `scheme "file"`},
		{url: "//example.com/hook", want: "not an absolute URL"},
		{url: "https://user:pass@example.com/hook", want: "user credentials"},
		{url: "https://@example.com/hook", want: "user credentials"},
		{url: "https:///hook", want: "no host"},
		{url: "https://example.com:0/", want: `port "0"`},
		{url: "https://example.com:99999/", want: `port "99999"`},
		{url: "https://exa mple.com/", want: "does not parse"},
		{url: "https://%31%32%37.0.0.1/", want: "does not parse"},
		{url: "https://" + strings.Repeat("a", MaxURLLen) + ".com/", want: "longer than 2048"},
		{url: "https://１２７.０.０.１/", want: "not ASCII"},
		{url: "https://exa*mple.com/", want: "not a valid host name"},

		// IPv4 literals.
		{url: "https://127.0.0.1/", refused: true, want: "host 127.0.0.1 is loopback"},
		{url: "https://127.0.0.1:8443/hook", refused: true, want: "loopback"},
		{url: "https://10.0.0.1/", refused: true, want: "private network"},
		{url: "https://172.16.5.4/", refused: true, want: "private network"},
		{url: "https://192.168.1.1/", refused: true, want: "private network"},
		{url: "https://169.254.169.254/latest/meta-data/", refused: true, want: "link-local"},
		{url: "https://100.64.0.1/", refused: true, want: "carrier-grade NAT"},
		{url: "https://0.0.0.0/", refused: true, want: "unspecified"},
		{url: "https://224.0.0.1/", refused: true, want: "multicast"},
		{url: "https://255.255.255.255/", refused: true, want: "broadcast"},
		{url: "https://240.0.0.1/", refused: true, want: "reserved"},
		{url: "https://192.0.2.1/", refused: true, want: "documentation"},
		{url: "https://198.51.100.7/", refused: true, want: "documentation"},
		{url: "https://203.0.113.9/", refused: true, want: "documentation"},
		{url: "https://198.18.0.1/", refused: true, want: "benchmarking"},
		{url: "https://192.0.0.8/", refused: true, want: "IETF"},

		// Odd numeric spellings.
		{url: "https://2130706433/", refused: true,
			want: "is 127.0.0.1 written in an odd numeric form (loopback)"},
		{url: "https://0x7f.1/", refused: true, want: "is 127.0.0.1"},
		{url: "https://127.1/", refused: true, want: "is 127.0.0.1"},
		{url: "https://017700000001/", refused: true, want: "is 127.0.0.1"},
		{url: "https://0x7f000001/", refused: true, want: "is 127.0.0.1"},
		{url: "https://0177.0.0.1/", refused: true, want: "is 127.0.0.1"},
		{url: "https://127.000.000.001/", refused: true, want: "is 127.0.0.1"},
		{url: "https://0X7F.0.0.1/", refused: true, want: "is 127.0.0.1"},
		{url: "https://127.0.0.1./", refused: true, want: "is 127.0.0.1"},
		{url: "https://0300.0250.0.1/", refused: true, want: "is 192.168.0.1"},
		{url: "https://169.254.43518/", refused: true, want: "is 169.254.169.254"},
		{url: "https://0/", refused: true, want: "is 0.0.0.0"},
		{url: "https://134744072/", refused: true, want: "write it as 8.8.8.8"},
		{url: "https://1.2.3.4.5/", refused: true, want: "not a valid IPv4 address"},
		{url: "https://256.256.256.256/", refused: true, want: "not a valid IPv4 address"},

		// IPv6 literals.
		{url: "https://[::1]/", refused: true, want: "host ::1 is loopback"},
		{url: "https://[::]/", refused: true, want: "unspecified"},
		{url: "https://[::ffff:127.0.0.1]/", refused: true, want: "IPv4-mapped, embeds 127.0.0.1"},
		{url: "https://[::ffff:7f00:1]/", refused: true, want: "IPv4-mapped"},
		{url: "https://[0:0:0:0:0:ffff:169.254.169.254]/", refused: true, want: "link-local"},
		{url: "https://[::127.0.0.1]/", refused: true, want: "IPv4-compatible"},
		{url: "https://[64:ff9b::127.0.0.1]/", refused: true, want: "NAT64, embeds 127.0.0.1"},
		{url: "https://[64:ff9b::a9fe:a9fe]/", refused: true,
			want: "NAT64, embeds 169.254.169.254"},
		{url: "https://[64:ff9b:1::a00:1]/", refused: true, want: "local-use NAT64"},
		{url: "https://[2002:7f00:1::]/", refused: true, want: "6to4, embeds 127.0.0.1"},
		{url: "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", refused: true, want: "Teredo"},
		{url: "https://[fe80::1%25eth0]/", refused: true, want: "link-local"},
		{url: "https://[fc00::1]/", refused: true, want: "unique local"},
		{url: "https://[fd12:3456::1]:8443/", refused: true, want: "unique local"},
		{url: "https://[2001:db8::1]/", refused: true, want: "documentation"},
		{url: "https://[ff02::1]/", refused: true, want: "multicast"},
		{url: "https://[fec0::1]/", refused: true, want: "site-local"},

		// Names that mean loopback.
		{url: "https://localhost/", refused: true, want: "host localhost is loopback"},
		{url: "https://LOCALHOST.:8443/", refused: true, want: "loopback"},
		{url: "https://api.localhost/", refused: true, want: "loopback"},
	}
	require.GreaterOrEqual(t, len(cases), 30)
	p := mustPolicy(t)
	for _, tc := range cases {
		t.Run(tc.url[:min(len(tc.url), 60)], func(t *testing.T) {
			_, err := checkWebhookURL(tc.url, false, p)
			require.ErrorIs(t, err, ErrInvalidURL)
			require.Equal(t, tc.refused, isRefused(err), "wraps ErrAddressRefused")
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "webhook: invalid webhook url"),
				err.Error())
		})
	}
}

func isRefused(err error) bool {
	re, ok := err.(*refusedError)
	return ok && re.url != ""
}

func TestCheckURLAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url       string
		allowHTTP bool
		allow     []string
		host      string
	}{
		{url: "https://example.com/hook", host: "example.com:443"},
		{url: "https://Hooks.Example.COM:8443/a?b=c", host: "hooks.example.com:8443"},
		{url: "https://93.184.216.34/", host: "93.184.216.34:443"},
		{url: "https://[2606:4700:4700::1111]/", host: "[2606:4700:4700::1111]:443"},
		{url: "https://[64:ff9b::808:808]/", host: "[64:ff9b::808:808]:443"},
		{url: "https://xn--bcher-kva.example/", host: "xn--bcher-kva.example:443"},
		{url: "https://1.2.3.example/", host: "1.2.3.example:443"},
		{url: "http://example.com/", allowHTTP: true, host: "example.com:80"},
		{url: "https://127.0.0.1:8080/", allow: []string{"127.0.0.1"}, host: "127.0.0.1:8080"},
		{url: "http://localhost:8080/", allowHTTP: true, allow: []string{"127.0.0.1"},
			host: "localhost:8080"},
		{url: "https://localhost/", allow: []string{"localhost"}, host: "localhost:443"},
		{url: "https://[::1]:9/", allow: []string{"::1"}, host: "[::1]:9"},
		{url: "https://10.1.2.3/", allow: []string{"10.0.0.0/8"}, host: "10.1.2.3:443"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			host, err := checkWebhookURL(tc.url, tc.allowHTTP, mustPolicy(t, tc.allow...))
			require.NoError(t, err)
			require.Equal(t, tc.host, host)
		})
	}
}

// TestCheckURLRedacts: the query string, where customers put tokens, never
// reaches an error.
func TestCheckURLRedacts(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t)
	for _, raw := range []string{
		"http://example.com/hook?token=s3cr3t",
		"https://127.0.0.1/hook?token=s3cr3t#s3cr3t",
		"https://u:s3cr3t@example.com/?token=s3cr3t",
		"https://2130706433/?token=s3cr3t",
		"ftp://example.com/?s3cr3t",
		"https://example.com:99999/?token=s3cr3t",
		"https://exa mple.com/?token=s3cr3t",
		"https://example.com/%zz?token=s3cr3t",
		"https://" + strings.Repeat("a", MaxURLLen) + "/?token=s3cr3t",
	} {
		_, err := checkWebhookURL(raw, false, p)
		require.Error(t, err, raw)
		require.NotContains(t, err.Error(), "s3cr3t", raw)
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://example.com/a?token=x":           "https://example.com/a?REDACTED",
		"https://u:p@example.com/a?x=1#frag":      "https://example.com/a?REDACTED",
		"https://example.com/a":                   "https://example.com/a",
		"https://example.com/a#token":             "https://example.com/a",
		"https://exa mple.com/?token=x":           "(unparsable url)",
		"https://[::1]:8080/?sig=abc&exp=1700000": "https://[::1]:8080/?REDACTED",
	} {
		require.Equal(t, want, redactURL(raw), raw)
	}
}

// FuzzCheckURL checks, for any string, that an accepted URL's host is not a
// refused IP literal, an odd numeric spelling or localhost, and that no
// error shows the query string.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook?token=abc",
		"https://127.0.0.1/",
		"https://2130706433/",
		"https://0x7f.1/",
		"https://127.1/",
		"https://017700000001/",
		"https://[::ffff:127.0.0.1]/",
		"https://[64:ff9b::7f00:1]/",
		"https://[fe80::1%25eth0]/",
		"https://localhost./",
		"https://user:pw@example.com/",
		"http://example.com/",
		"https://93.184.216.34/",
	} {
		f.Add(s)
	}
	p := mustPolicy(f)
	f.Fuzz(func(t *testing.T, raw string) {
		host, err := checkWebhookURL(raw, false, p)
		if err != nil {
			u, perr := url.Parse(raw)
			if perr == nil && len(u.RawQuery) >= 8 && !strings.Contains(u.RawQuery, "REDACTED") &&
				!strings.Contains(raw[:strings.Index(raw, "?")], u.RawQuery) {
				require.NotContains(t, err.Error(), u.RawQuery)
			}
			return
		}
		require.NotEmpty(t, host)
		u, perr := url.Parse(raw)
		require.NoError(t, perr)
		require.Equal(t, "https", u.Scheme)
		require.Nil(t, u.User)
		name := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			require.False(t, mustRefuse(a), "accepted refused literal %s", a)
			return
		}
		last := name[strings.LastIndex(name, ".")+1:]
		require.False(t, last != "" && strings.Trim(last, "0123456789") == "",
			"accepted numeric host %q", name)
		hex, isHex := strings.CutPrefix(last, "0x")
		require.False(t, isHex && strings.Trim(hex, "0123456789abcdef") == "",
			"accepted hex host %q", name)
		require.False(t, name == "localhost" || strings.HasSuffix(name, ".localhost"),
			"accepted %q", name)
	})
}
