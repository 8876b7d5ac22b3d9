package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file holds the SSRF guard: the policy that decides which addresses
// a webhook may reach, and the dialer that enforces it on the address
// actually dialed. urlpolicy.go applies the same policy to the URL at Send.

// refusedError is a host the guard refuses, with the reason. It wraps
// ErrAddressRefused, and ErrInvalidURL too when the URL policy found it at
// Send.
type refusedError struct {
	host   string // the host as written in the URL or the dialed address
	detail string // why, e.g. "is loopback"
	url    string // the redacted URL when found at Send, else ""
}

func (e *refusedError) Error() string {
	if e.url != "" {
		return fmt.Sprintf("webhook: invalid webhook url %s: address refused: host %s %s",
			e.url, e.host, e.detail)
	}
	return fmt.Sprintf("webhook: address refused: host %s %s", e.host, e.detail)
}

func (e *refusedError) Unwrap() []error {
	if e.url != "" {
		return []error{ErrAddressRefused, ErrInvalidURL}
	}
	return []error{ErrAddressRefused}
}

// special is a range of addresses the guard refuses, with its name.
type special struct {
	prefix netip.Prefix
	reason string
}

// refusedV4 lists the IPv4 ranges that are not globally reachable, from
// the IANA special-purpose address registry (RFC 6890 and later).
var refusedV4 = []special{
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// IPv6 ranges that carry an IPv4 address. Their addresses are judged by
// the IPv4 address they embed.
var (
	nat64Prefix   = netip.MustParsePrefix("64:ff9b::/96")
	teredoPrefix  = netip.MustParsePrefix("2001::/32")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	compatPrefix  = netip.MustParsePrefix("::/96")
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// refusedV6 lists IPv6 ranges refused outright. Anything outside 2000::/3
// (global unicast) is refused as well, except the IPv4-mapped and NAT64
// ranges, which are judged by their IPv4 address.
var refusedV6 = []special{
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// policy is the guard's decision: which addresses and host names may be
// reached. The zero policy refuses every non-public address.
type policy struct {
	nets  []netip.Prefix  // Config.Allow networks and addresses
	names map[string]bool // Config.Allow host names, lowercased, no final dot
	all   bool            // Allow covers every address: the guard is off
}

// newPolicy parses Config.Allow. Each entry is an IP address, a CIDR
// network or a host name; anything else is an error wrapping
// ErrInvalidConfig naming the entry.
func newPolicy(allow []string) (*policy, error) {
	p := &policy{names: map[string]bool{}}
	var all4, all6 bool
	for i, entry := range allow {
		bad := func(why string) error {
			return fmt.Errorf("%w: Allow[%d]: %q %s", ErrInvalidConfig, i, entry, why)
		}
		switch {
		case strings.Contains(entry, "://"):
			return nil, bad("is a URL: give its host name")
		case strings.Contains(entry, "/"):
			pfx, err := netip.ParsePrefix(entry)
			if err != nil {
				return nil, bad("is not a CIDR network")
			}
			pfx = pfx.Masked()
			p.nets = append(p.nets, pfx)
			all4 = all4 || (pfx.Addr().Is4() && pfx.Bits() == 0)
			all6 = all6 || (pfx.Addr().Is6() && pfx.Bits() == 0)
		case isIPLiteral(entry):
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				return nil, bad("is not an IP address")
			}
			a = a.Unmap()
			p.nets = append(p.nets, netip.PrefixFrom(a, a.BitLen()))
		default:
			name := canonicalName(entry)
			if _, numeric := numericHost(name); numeric {
				return nil, bad("is a numeric host: write the address as a dotted quad")
			}
			if !validHostName(name) {
				return nil, bad("is not an IP address, CIDR network or host name")
			}
			p.names[name] = true
		}
	}
	p.all = all4 && all6
	return p, nil
}

// allowed reports whether Config.Allow opens a.
func (p *policy) allowed(a netip.Addr) bool {
	if p.all {
		return true
	}
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// nameAllowed reports whether Config.Allow names host.
func (p *policy) nameAllowed(host string) bool {
	return p.names[canonicalName(host)]
}

// refusal returns why the guard refuses a, or "" if a may be reached.
func (p *policy) refusal(a netip.Addr) string {
	a = a.WithZone("")
	if p.allowed(a) {
		return ""
	}
	if a.Is4() {
		for _, s := range refusedV4 {
			if s.prefix.Contains(a) {
				return s.reason
			}
		}
		return ""
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		return p.embedded("IPv4-mapped", a.Unmap())
	case nat64Prefix.Contains(a):
		return p.embedded("NAT64", lastV4(a))
	case teredoPrefix.Contains(a):
		// The server's address is in clear, the client's inverted.
		server := netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]})
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		if r := p.embedded("Teredo", server); r != "" {
			return r
		}
		return p.embedded("Teredo", client)
	case sixToFour.Contains(a):
		return p.embedded("6to4", netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	for _, s := range refusedV6 {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	switch {
	case compatPrefix.Contains(a):
		// Deprecated by RFC 4291 and never routed: refused whatever it
		// embeds.
		if r := p.embedded("IPv4-compatible", lastV4(a)); r != "" {
			return r
		}
		return "IPv4-compatible (deprecated)"
	case !globalUnicast.Contains(a):
		return "not global unicast"
	}
	return ""
}

// embedded judges an IPv6 address by the IPv4 address v4 it carries.
func (p *policy) embedded(kind string, v4 netip.Addr) string {
	if r := p.refusal(v4); r != "" {
		return fmt.Sprintf("%s, embeds %s (%s)", kind, v4, r)
	}
	return ""
}

// lastV4 returns the IPv4 address in the last 32 bits of a.
func lastV4(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}

// checkHost applies the policy to a host as written in a URL, before any
// name is resolved: an IP literal that is refused, an odd numeric spelling
// of an IPv4 address (which resolvers disagree about) and localhost when
// loopback is not allowed are refused with a *refusedError. For an IP
// literal it returns the address; for a host name, ok is false.
func (p *policy) checkHost(host string) (addr netip.Addr, ok bool, err error) {
	if isIPLiteral(host) {
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return netip.Addr{}, false,
				&refusedError{host: host, detail: "is not a valid IP address"}
		}
		if r := p.refusal(a); r != "" {
			return netip.Addr{}, false, &refusedError{host: host, detail: "is " + r}
		}
		return a, true, nil
	}

	name := canonicalName(host)
	if p.nameAllowed(name) {
		return netip.Addr{}, false, nil
	}
	if v4, numeric := numericHost(name); numeric {
		if !v4.IsValid() {
			return netip.Addr{}, false, &refusedError{host: host,
				detail: "ends in a number but is not a valid IPv4 address"}
		}
		detail := "is " + v4.String() + " written in an odd numeric form"
		if r := p.refusal(v4); r != "" {
			detail += " (" + r + ")"
		} else {
			detail += "; write it as " + v4.String()
		}
		return netip.Addr{}, false, &refusedError{host: host, detail: detail}
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		v4, v6 := netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()
		if p.refusal(v4) != "" && p.refusal(v6) != "" {
			return netip.Addr{}, false, &refusedError{host: host, detail: "is loopback"}
		}
	}
	return netip.Addr{}, false, nil
}

// isIPLiteral reports whether host is written as an IP address: it has a
// colon (IPv6) or is a dotted quad of plain decimals.
func isIPLiteral(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Is4()
}

// canonicalName lowercases a host name and drops one final dot.
func canonicalName(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// validHostName reports whether name is made of letters, digits, hyphens,
// underscores and dots, in labels of 1 to 63 bytes, 253 bytes at most.
func validHostName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

// numericHost reports whether a host name (lowercase, without a final dot)
// ends in a number, as the WHATWG URL standard puts it, and so would be
// read as an IPv4 address by inet_aton(3) or a browser. v4 is that address,
// or invalid when the spelling does not parse as one (inet_aton fails, but
// some resolvers then try DNS).
//
// inet_aton accepts one to four parts separated by dots, each decimal,
// octal (a leading 0) or hexadecimal (a leading 0x); the last part fills
// the bytes left: 2130706433, 0x7f.1, 127.1 and 017700000001 are all
// 127.0.0.1.
func numericHost(name string) (v4 netip.Addr, numeric bool) {
	parts := strings.Split(name, ".")
	last := parts[len(parts)-1]
	if !isNumberPart(last) {
		return netip.Addr{}, false
	}
	if len(parts) > 4 {
		return netip.Addr{}, true
	}
	var vals []uint64
	for _, part := range parts {
		v, ok := parseNumberPart(part)
		if !ok {
			return netip.Addr{}, true
		}
		vals = append(vals, v)
	}
	var n uint64
	for _, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, true
		}
		n = n<<8 | v
	}
	rest := uint(8 * (5 - len(vals)))
	if vals[len(vals)-1] >= 1<<rest {
		return netip.Addr{}, true
	}
	n = n<<rest | vals[len(vals)-1]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// isNumberPart reports whether a label is all decimal digits, or 0x and
// hexadecimal digits.
func isNumberPart(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "0x") {
		s = s[2:]
		for i := 0; i < len(s); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseNumberPart parses one part of an inet_aton address.
func parseNumberPart(s string) (uint64, bool) {
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

// lookupFunc resolves a host name to addresses, like
// [net.Resolver.LookupNetIP].
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// dialFunc dials an address, like [net.Dialer.DialContext].
type dialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// guard is a dialer that enforces a policy on every connection: it
// resolves the host itself, drops refused addresses, and dials the others
// by IP address, so that a name cannot resolve to one address when checked
// and another when dialed.
type guard struct {
	policy *policy
	lookup lookupFunc
	dial   dialFunc
	// budget is the time a dial may take in all when its ctx has no
	// deadline, as the Dispatcher's attempts have none (their limit runs on
	// the Dispatcher's Clock): it is shared among the host's addresses, so
	// one unreachable address cannot take the whole attempt.
	budget time.Duration
}

// minDialTimeout is the least time given to each address when a dial
// splits its deadline among several.
const minDialTimeout = 2 * time.Second

// DialContext dials address ("host:port") through the guard. If no
// address of host may be reached it returns an error wrapping
// ErrAddressRefused that names the host and why, and dials nothing.
func (g *guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ipNetwork, ok := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	if !ok {
		return nil, fmt.Errorf("webhook: dial %s: the SSRF guard dials tcp only", network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("webhook: dial: %w", err)
	}
	addrs, err := g.resolve(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}

	// Dial the allowed addresses in turn, each with a share of the time
	// left, and return the first connection.
	var first error
	deadline, hasDeadline := ctx.Deadline()
	if !hasDeadline && g.budget > 0 {
		deadline, hasDeadline = time.Now().Add(g.budget), true
	}
	for i, a := range addrs {
		dctx, cancel := ctx, context.CancelFunc(func() {})
		if hasDeadline {
			share := time.Until(deadline) / time.Duration(len(addrs)-i)
			share = max(share, min(minDialTimeout, time.Until(deadline)))
			dctx, cancel = context.WithTimeout(ctx, share)
		}
		conn, err := g.dial(dctx, network, net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve returns the addresses of host that the policy allows, in the
// resolver's order, or an error wrapping ErrAddressRefused when there is
// none.
func (g *guard) resolve(ctx context.Context, ipNetwork, host string) ([]netip.Addr, error) {
	a, literal, err := g.policy.checkHost(host)
	if err != nil {
		return nil, err
	}
	if literal {
		return []netip.Addr{a}, nil
	}

	found, err := g.lookup(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}
	trusted := g.policy.nameAllowed(host)
	var allowed []netip.Addr
	var refused []string
	for _, a := range found {
		a = a.Unmap()
		if r := g.policy.refusal(a); r != "" && !trusted {
			refused = append(refused, fmt.Sprintf("%s (%s)", a, r))
			continue
		}
		allowed = append(allowed, a)
	}
	if len(allowed) == 0 {
		if len(refused) == 0 {
			return nil, fmt.Errorf("webhook: resolve host %s: no addresses", host)
		}
		const shown = 4
		if len(refused) > shown {
			refused = append(refused[:shown], fmt.Sprintf("and %d more", len(refused)-shown))
		}
		return nil, &refusedError{host: host,
			detail: "resolves only to refused addresses: " + strings.Join(refused, ", ")}
	}
	return allowed, nil
}
