package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeNet is a resolver and a dialer that never touch the network: the
// resolver answers from a table, the dialer records every address it is
// asked for and hands back one end of a pipe (or fails, if told to).
type fakeNet struct {
	mu      sync.Mutex
	hosts   map[string][]netip.Addr
	dialed  []string
	lookups []string
	failFor map[string]bool // addresses whose dial fails
	conns   []net.Conn
}

func newFakeNet(hosts map[string][]string) *fakeNet {
	f := &fakeNet{hosts: map[string][]netip.Addr{}, failFor: map[string]bool{}}
	for h, addrs := range hosts {
		for _, a := range addrs {
			f.hosts[h] = append(f.hosts[h], netip.MustParseAddr(a))
		}
	}
	return f
}

func (f *fakeNet) lookup(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, host)
	addrs, ok := f.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func (f *fakeNet) dial(_ context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dialed = append(f.dialed, address)
	if f.failFor[address] {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("fake: refused")}
	}
	a, b := net.Pipe()
	f.conns = append(f.conns, a, b)
	return a, nil
}

func (f *fakeNet) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

func (f *fakeNet) dialedAddrs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dialed...)
}

func mustPolicy(t testing.TB, allow ...string) *policy {
	t.Helper()
	p, err := newPolicy(allow)
	require.NoError(t, err)
	return p
}

// TestRefusal checks the guard's verdict on single addresses: what it
// refuses and why, and what it lets through.
func TestRefusal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr string
		want string // substring of the reason; "" means allowed
	}{
		{addr: "127.0.0.1", want: "loopback"},
		{addr: "127.255.255.254", want: "loopback"},
		{addr: "10.1.2.3", want: "private network"},
		{addr: "172.16.0.1", want: "private network"},
		{addr: "172.31.255.255", want: "private network"},
		{addr: "192.168.0.1", want: "private network"},
		{addr: "169.254.169.254", want: "link-local"},
		{addr: "100.64.0.1", want: "carrier-grade NAT"},
		{addr: "100.127.255.255", want: "carrier-grade NAT"},
		{addr: "0.0.0.0", want: "unspecified"},
		{addr: "0.1.2.3", want: "this network"},
		{addr: "224.0.0.251", want: "multicast"},
		{addr: "255.255.255.255", want: "broadcast"},
		{addr: "240.0.0.1", want: "reserved"},
		{addr: "192.0.0.8", want: "IETF"},
		{addr: "192.0.2.1", want: "documentation"},
		{addr: "198.51.100.1", want: "documentation"},
		{addr: "203.0.113.1", want: "documentation"},
		{addr: "198.18.0.1", want: "benchmarking"},
		{addr: "198.19.255.255", want: "benchmarking"},
		{addr: "::", want: "unspecified"},
		{addr: "::1", want: "loopback"},
		{addr: "fc00::1", want: "unique local"},
		{addr: "fd12:3456:789a::1", want: "unique local"},
		{addr: "fe80::1", want: "link-local"},
		{addr: "fe80::1%eth0", want: "link-local"},
		{addr: "fec0::1", want: "site-local"},
		{addr: "ff02::1", want: "multicast"},
		{addr: "2001:db8::1", want: "documentation"},
		{addr: "3fff::1", want: "documentation"},
		{addr: "100::1", want: "discard-only"},
		{addr: "::ffff:127.0.0.1", want: "IPv4-mapped, embeds 127.0.0.1 (loopback)"},
		{addr: "::ffff:169.254.169.254", want: "link-local"},
		{addr: "::127.0.0.1", want: "IPv4-compatible, embeds 127.0.0.1"},
		{addr: "::8.8.8.8", want: "IPv4-compatible (deprecated)"},
		{addr: "64:ff9b::7f00:1", want: "NAT64, embeds 127.0.0.1"},
		{addr: "64:ff9b::10.0.0.1", want: "NAT64, embeds 10.0.0.1"},
		{addr: "64:ff9b:1::a00:1", want: "local-use NAT64"},
		{addr: "2002:7f00:1::1", want: "6to4, embeds 127.0.0.1"},
		{addr: "2002:c0a8:101::1", want: "6to4, embeds 192.168.1.1"},
		// RFC 4380's example: server 65.54.227.120, client 192.0.2.45.
		{addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", want: "Teredo, embeds 192.0.2.45"},
		{addr: "2001:0:a00:1::ffff:ffff", want: "Teredo, embeds 10.0.0.1"},
		{addr: "2001:2::1", want: "IETF"},
		{addr: "4000::1", want: "not global unicast"},

		{addr: "8.8.8.8"},
		{addr: "1.1.1.1"},
		{addr: "93.184.216.34"},
		{addr: "100.63.255.255"},
		{addr: "100.128.0.0"},
		{addr: "172.32.0.1"},
		{addr: "2606:4700:4700::1111"},
		{addr: "2a00:1450:4001:80b::200e"},
		{addr: "::ffff:8.8.8.8"},
		{addr: "64:ff9b::808:808"},
		{addr: "2002:808:808::1"},
		{addr: "2001:0:4136:e378:8000:63bf:f7f7:f7f7"},
	}
	p := mustPolicy(t)
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			got := p.refusal(netip.MustParseAddr(tc.addr))
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, tc.want)
		})
	}
}

// TestRefusalAllow checks that Config.Allow opens exactly what it names,
// embedded addresses included.
func TestRefusalAllow(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "127.0.0.1", "10.1.0.0/16", "::1")
	for addr, want := range map[string]bool{
		"127.0.0.1":         true,
		"::ffff:127.0.0.1":  true,
		"::1":               true,
		"127.0.0.2":         false,
		"10.1.200.3":        true,
		"10.2.0.1":          false,
		"64:ff9b::a01:203":  true, // NAT64 of 10.1.2.3
		"64:ff9b::a02:203":  false,
		"192.168.0.1":       false,
		"fe80::1":           false,
		"169.254.169.254":   false,
		"2002:a01:101::1":   true, // 6to4 of 10.1.1.1
		"2002:a02:101::1":   false,
		"::ffff:10.1.9.9":   true,
		"::ffff:10.9.9.9":   false,
		"8.8.8.8":           true,
		"2001:4860::8888":   true,
		"::ffff:192.0.2.33": false,
	} {
		require.Equal(t, want, p.refusal(netip.MustParseAddr(addr)) == "", addr)
	}

	off := mustPolicy(t, "0.0.0.0/0", "::/0")
	require.True(t, off.all)
	require.Empty(t, off.refusal(netip.MustParseAddr("127.0.0.1")))
	require.Empty(t, off.refusal(netip.MustParseAddr("fe80::1")))
	require.False(t, mustPolicy(t, "0.0.0.0/0").all)
}

func TestNewPolicyErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		entry string
		want  string
	}{
		"bad cidr":      {entry: "10.0.0.0/33", want: "not a CIDR network"},
		"bad cidr addr": {entry: "nope/8", want: "not a CIDR network"},
		"bad ipv6":      {entry: "::g", want: "not an IP address"},
		"zone":          {entry: "fe80::1%eth0", want: "not an IP address"},
		"numeric":       {entry: "127.1", want: "numeric host"},
		"decimal":       {entry: "2130706433", want: "numeric host"},
		"url":           {entry: "https://example.com", want: "is a URL"},
		"port":          {entry: "example.com:8080", want: "not an IP address"},
		"empty":         {entry: "", want: "not an IP address, CIDR network or host name"},
		"space":         {entry: "exa mple.com", want: "not an IP address, CIDR"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := newPolicy([]string{"127.0.0.1", tc.entry})
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.ErrorContains(t, err, "Allow[1]")
			require.ErrorContains(t, err, tc.want)
		})
	}

	p := mustPolicy(t, "LocalHost.", "hooks.internal", "192.168.0.0/16", "::1")
	require.True(t, p.nameAllowed("localhost"))
	require.True(t, p.nameAllowed("HOOKS.internal."))
	require.False(t, p.nameAllowed("other.internal"))
}

// TestNumericHost checks the inet_aton reading of numeric host names.
func TestNumericHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host    string
		numeric bool
		want    string // "" when numeric but not a valid address
	}{
		{host: "2130706433", numeric: true, want: "127.0.0.1"},
		{host: "0x7f.1", numeric: true, want: "127.0.0.1"},
		{host: "127.1", numeric: true, want: "127.0.0.1"},
		{host: "017700000001", numeric: true, want: "127.0.0.1"},
		{host: "0x7f000001", numeric: true, want: "127.0.0.1"},
		{host: "0177.0.0.1", numeric: true, want: "127.0.0.1"},
		{host: "127.000.000.001", numeric: true, want: "127.0.0.1"},
		{host: "0x7f.0x0.0x0.0x1", numeric: true, want: "127.0.0.1"},
		{host: "127.0.1", numeric: true, want: "127.0.0.1"},
		{host: "0300.0250.0.1", numeric: true, want: "192.168.0.1"},
		{host: "169.254.43518", numeric: true, want: "169.254.169.254"},
		{host: "0", numeric: true, want: "0.0.0.0"},
		{host: "0x", numeric: true, want: "0.0.0.0"},
		{host: "4294967295", numeric: true, want: "255.255.255.255"},
		{host: "134744072", numeric: true, want: "8.8.8.8"},
		{host: "4294967296", numeric: true},
		{host: "256.1.1.1", numeric: true},
		{host: "1.2.3.4.5", numeric: true},
		{host: "1.2.3.256", numeric: true},
		{host: "1.2.65536", numeric: true},
		{host: "08.1.1.1", numeric: true},
		{host: "1..1", numeric: true},
		{host: "99999999999999999999999", numeric: true},
		{host: "example.com"},
		{host: "1.2.3.com"},
		{host: "0x7g"},
		{host: "123abc"},
		{host: "a.0x", numeric: true},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			a, numeric := numericHost(tc.host)
			require.Equal(t, tc.numeric, numeric)
			if tc.want == "" {
				require.False(t, a.IsValid())
				return
			}
			require.Equal(t, tc.want, a.String())
		})
	}
}

func TestGuardDial(t *testing.T) {
	t.Parallel()
	hosts := map[string][]string{
		"public.example":   {"93.184.216.34"},
		"private.example":  {"10.0.0.7", "192.168.1.2"},
		"mixed.example":    {"127.0.0.1", "93.184.216.34", "::1", "2606:4700::1"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"metadata.example": {"169.254.169.254", "fd00:ec2::254"},
		"internal.example": {"10.9.9.9"},
		"many.example": {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5",
			"10.0.0.6"},
	}
	cases := map[string]struct {
		allow   []string
		address string
		dialed  []string
		refused string // substring of the ErrAddressRefused error
		err     string // another error
	}{
		"public name":    {address: "public.example:443", dialed: []string{"93.184.216.34:443"}},
		"public literal": {address: "8.8.8.8:443", dialed: []string{"8.8.8.8:443"}},
		"private name": {address: "private.example:443",
			refused: "host private.example resolves only to refused addresses: " +
				"10.0.0.7 (private network), 192.168.1.2 (private network)"},
		"mixed name":      {address: "mixed.example:443", dialed: []string{"93.184.216.34:443"}},
		"mapped loopback": {address: "mapped.example:443", refused: "127.0.0.1 (loopback)"},
		"metadata": {address: "metadata.example:80",
			refused: "169.254.169.254 (link-local), fd00:ec2::254 (unique local)"},
		"many refused": {address: "many.example:80", refused: "and 2 more"},
		"loopback literal": {address: "127.0.0.1:8080",
			refused: "host 127.0.0.1 is loopback"},
		"ipv6 literal": {address: "[::1]:8080", refused: "host ::1 is loopback"},
		"odd numeric": {address: "2130706433:80",
			refused: "127.0.0.1 written in an odd numeric form (loopback)"},
		"odd public":   {address: "134744072:80", refused: "write it as 8.8.8.8"},
		"localhost":    {address: "localhost:80", refused: "host localhost is loopback"},
		"unknown host": {address: "nx.example:443", err: "no such host"},
		"allow literal": {allow: []string{"127.0.0.1"}, address: "127.0.0.1:8080",
			dialed: []string{"127.0.0.1:8080"}},
		"allow cidr": {allow: []string{"10.0.0.0/8"}, address: "private.example:443",
			dialed: []string{"10.0.0.7:443"}},
		"allow name": {allow: []string{"internal.example"}, address: "internal.example:443",
			dialed: []string{"10.9.9.9:443"}},
		"allow loopback v4 only": {allow: []string{"127.0.0.0/8"}, address: "mixed.example:443",
			dialed: []string{"127.0.0.1:443"}},
		"allow other name": {allow: []string{"internal.example"}, address: "private.example:443",
			refused: "resolves only to refused"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn := newFakeNet(hosts)
			defer fn.close()
			g := &guard{policy: mustPolicy(t, tc.allow...), lookup: fn.lookup, dial: fn.dial}
			conn, err := g.DialContext(context.Background(), "tcp", tc.address)
			switch {
			case tc.refused != "":
				require.ErrorIs(t, err, ErrAddressRefused)
				require.ErrorContains(t, err, tc.refused)
				require.NotErrorIs(t, err, ErrInvalidURL)
			case tc.err != "":
				require.ErrorContains(t, err, tc.err)
				require.NotErrorIs(t, err, ErrAddressRefused)
			default:
				require.NoError(t, err)
				conn.Close()
			}
			require.Equal(t, tc.dialed, fn.dialedAddrs())
		})
	}
}

// TestGuardRebinding: the guard resolves at every dial, so a name that
// answered with a public address and then with a private one is refused
// the second time.
func TestGuardRebinding(t *testing.T) {
	t.Parallel()
	fn := newFakeNet(map[string][]string{"rebind.example": {"93.184.216.34"}})
	defer fn.close()
	g := &guard{policy: mustPolicy(t), lookup: fn.lookup, dial: fn.dial}

	conn, err := g.DialContext(context.Background(), "tcp", "rebind.example:443")
	require.NoError(t, err)
	conn.Close()

	fn.mu.Lock()
	fn.hosts["rebind.example"] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	fn.mu.Unlock()
	_, err = g.DialContext(context.Background(), "tcp", "rebind.example:443")
	require.ErrorIs(t, err, ErrAddressRefused)
	require.Equal(t, []string{"93.184.216.34:443"}, fn.dialedAddrs())
	require.Equal(t, []string{"rebind.example", "rebind.example"}, fn.lookups)
}

// TestGuardFallback: when an allowed address fails, the next one is tried,
// each within a share of the deadline.
func TestGuardFallback(t *testing.T) {
	t.Parallel()
	fn := newFakeNet(map[string][]string{"two.example": {"10.0.0.1", "2606:4700::1",
		"93.184.216.34"}})
	defer fn.close()
	fn.failFor["[2606:4700::1]:443"] = true
	var deadlines []time.Duration
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok)
		deadlines = append(deadlines, time.Until(d))
		return fn.dial(ctx, network, address)
	}
	g := &guard{policy: mustPolicy(t), lookup: fn.lookup, dial: dial}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	conn, err := g.DialContext(ctx, "tcp", "two.example:443")
	require.NoError(t, err)
	conn.Close()
	require.Equal(t, []string{"[2606:4700::1]:443", "93.184.216.34:443"}, fn.dialedAddrs())
	require.Len(t, deadlines, 2)
	require.InDelta(t, 30*time.Minute, deadlines[0], float64(time.Minute))

	fn.failFor["93.184.216.34:443"] = true
	_, err = g.DialContext(ctx, "tcp", "two.example:443")
	require.ErrorContains(t, err, "fake: refused")
	require.NotErrorIs(t, err, ErrAddressRefused)
}

// The Dispatcher's attempts carry no ctx deadline (their limit runs on its
// Clock), so the guard shares its own budget among the addresses: one that
// never answers cannot take the whole attempt.
func TestGuardFallbackWithoutDeadline(t *testing.T) {
	t.Parallel()
	fn := newFakeNet(map[string][]string{"two.example": {"2606:4700::1", "93.184.216.34"}})
	defer fn.close()
	fn.failFor["[2606:4700::1]:443"] = true
	var deadlines []time.Duration
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok, "every address gets a deadline of its own")
		deadlines = append(deadlines, time.Until(d))
		return fn.dial(ctx, network, address)
	}
	g := &guard{policy: mustPolicy(t), lookup: fn.lookup, dial: dial, budget: 30 * time.Second}
	conn, err := g.DialContext(context.Background(), "tcp", "two.example:443")
	require.NoError(t, err)
	conn.Close()
	require.Equal(t, []string{"[2606:4700::1]:443", "93.184.216.34:443"}, fn.dialedAddrs())
	require.Len(t, deadlines, 2)
	require.InDelta(t, 15*time.Second, deadlines[0], float64(time.Second), "half the budget")
}

func TestGuardNetworks(t *testing.T) {
	t.Parallel()
	fn := newFakeNet(nil)
	g := &guard{policy: mustPolicy(t), lookup: fn.lookup, dial: fn.dial}
	_, err := g.DialContext(context.Background(), "udp", "8.8.8.8:53")
	require.ErrorContains(t, err, "tcp only")
	_, err = g.DialContext(context.Background(), "tcp", "no-port")
	require.Error(t, err)
	require.Empty(t, fn.dialedAddrs())
}

// mustRefuse is an oracle for the fuzz tests, written apart from
// policy.refusal: it reports addresses that must never be dialed without an
// Allow entry. It is a subset of what the guard refuses.
func mustRefuse(a netip.Addr) bool {
	a = a.WithZone("")
	if a.Is4In6() {
		return mustRefuse(a.Unmap())
	}
	ip := net.IP(a.AsSlice())
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0, b[0] >= 240, b[0] == 100 && b[1]&0xc0 == 64,
			b[0] == 192 && b[1] == 0 && b[2] == 0, b[0] == 192 && b[1] == 0 && b[2] == 2,
			b[0] == 198 && b[1]&0xfe == 18, b[0] == 198 && b[1] == 51 && b[2] == 100,
			b[0] == 203 && b[1] == 0 && b[2] == 113:
			return true
		}
		return false
	}
	b := a.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	switch {
	case b[0] == 0x20 && b[1] == 0x02: // 6to4
		return mustRefuse(v4(2))
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
		[8]byte(b[4:12]) == [8]byte{}: // NAT64
		return mustRefuse(v4(12))
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8: // documentation
		return true
	case b[0]&0xe0 != 0x20: // outside 2000::/3
		return !(b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
	}
	return false
}

// FuzzGuardDial feeds the guard a host and resolver answers built from
// arbitrary bytes, and checks that no address the oracle refuses is ever
// dialed, and that everything dialed came from the answer or the literal.
func FuzzGuardDial(f *testing.F) {
	seeds := []struct {
		host  string
		addrs []byte
	}{
		{"public.example", netip.MustParseAddr("93.184.216.34").AsSlice()},
		{"lo.example", []byte{127, 0, 0, 1}},
		{"mixed.example", append([]byte{127, 0, 0, 1, 8, 8, 8, 8},
			netip.MustParseAddr("::ffff:10.0.0.1").AsSlice()...)},
		{"127.0.0.1", nil},
		{"2130706433", nil},
		{"0x7f.1", nil},
		{"::ffff:127.0.0.1", nil},
		{"64:ff9b::7f00:1", nil},
		{"2002:7f00:1::1", nil},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", nil},
		{"fe80::1%eth0", nil},
		{"localhost", []byte{127, 0, 0, 1}},
		{"x.example", netip.MustParseAddr("64:ff9b::a9fe:a9fe").AsSlice()},
		{"y.example", netip.MustParseAddr("2002:a9fe:a9fe::").AsSlice()},
	}
	for _, s := range seeds {
		f.Add(s.host, s.addrs)
	}
	p := mustPolicy(f)
	f.Fuzz(func(t *testing.T, host string, raw []byte) {
		// The resolver's answer: a selector byte, then 4 or 16 bytes.
		var answer []netip.Addr
		for len(raw) > 0 {
			n := 4
			if raw[0]&1 == 1 {
				n = 16
			}
			if len(raw) < n {
				n = 4
				if len(raw) < n {
					break
				}
			}
			a, _ := netip.AddrFromSlice(raw[:n])
			answer = append(answer, a)
			raw = raw[n:]
		}
		var dialed []netip.Addr
		g := &guard{
			policy: p,
			lookup: func(context.Context, string, string) ([]netip.Addr, error) {
				return answer, nil
			},
			dial: func(_ context.Context, _, address string) (net.Conn, error) {
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					t.Fatalf("dialed %q, not an IP address and port", address)
				}
				dialed = append(dialed, ap.Addr())
				return nil, errors.New("fake: not dialing")
			},
		}
		_, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort(host, "443"))
		require.Error(t, err)
		literal, literalErr := netip.ParseAddr(host)
		for _, a := range dialed {
			if mustRefuse(a) {
				t.Fatalf("dialed refused address %s for host %q", a, host)
			}
			from := literalErr == nil && a == literal
			for _, b := range answer {
				from = from || a == b.Unmap()
			}
			if !from {
				t.Fatalf("dialed %s, which is neither the literal nor in the answer %v",
					a, answer)
			}
		}
		if len(dialed) == 0 && !errors.Is(err, ErrAddressRefused) &&
			!strings.Contains(err.Error(), "no addresses") &&
			!strings.HasPrefix(err.Error(), "webhook: dial: ") {
			t.Fatalf("nothing dialed, yet the error is %v", err)
		}
	})
}

// TestDispatcherGuard runs the guard inside a Dispatcher: a name that
// resolves only to refused addresses fails its delivery at once, a name
// with both kinds reaches only the allowed one, and a refused literal is
// refused at Send with nothing stored. The allowed address is really
// dialed on a loopback server.
func TestDispatcherGuard(t *testing.T) {
	t.Parallel()
	srv, hits := loopbackServer(t)
	store := NewMemoryStore()
	outcomes := make(chan Delivery, 10)
	d, err := New(Config{Store: store, AllowHTTP: true,
		OnAttempt: func(del Delivery, _ Attempt) { outcomes <- del }})
	require.NoError(t, err)

	fn := newFakeNet(map[string][]string{
		"evil.example":  {"127.0.0.1", "::1"},
		"mixed.example": {"10.0.0.1", "93.184.216.34"},
	})
	var loopback net.Dialer
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		fn.mu.Lock()
		fn.dialed = append(fn.dialed, address)
		fn.mu.Unlock()
		return loopback.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}
	d.client, err = buildClient(d.cfg, d.policy, fn.lookup, dial)
	require.NoError(t, err)
	require.NoError(t, d.Start())
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.StopAndCancel(ctx))
	}()
	next := func() Delivery {
		select {
		case del := <-outcomes:
			return del
		case <-time.After(10 * time.Second):
			t.Fatal("no outcome within 10 s")
			return Delivery{}
		}
	}
	e, err := Completed("p-1", "https://assets.example/v.mp4", time.Time{})
	require.NoError(t, err)

	_, err = d.Send(context.Background(), "http://evil.example/hook?token=s3cr3t", e)
	require.NoError(t, err)
	del := next()
	require.Equal(t, StatusFailed, del.Status)
	require.Equal(t, 1, del.Attempts)
	require.Contains(t, del.LastError, "address refused: host evil.example resolves only to "+
		"refused addresses: 127.0.0.1 (loopback), ::1 (loopback)")
	require.NotContains(t, del.LastError, "s3cr3t")
	require.Empty(t, fn.dialedAddrs())
	var de *DeliveryError
	require.ErrorAs(t, del.Err(), &de)
	require.Equal(t, ReasonRefused, de.Reason)

	_, err = d.Send(context.Background(), "http://mixed.example:8080/hook", e)
	require.NoError(t, err)
	del = next()
	require.Equal(t, StatusDelivered, del.Status)
	require.Equal(t, []string{"93.184.216.34:8080"}, fn.dialedAddrs())
	require.Equal(t, int32(1), hits.Load())

	_, err = d.Send(context.Background(), srv.URL+"/hook", e)
	require.ErrorIs(t, err, ErrInvalidURL)
	require.ErrorIs(t, err, ErrAddressRefused)
	all, err := store.List(context.Background(), Filter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
}
