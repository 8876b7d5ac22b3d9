package verify

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseSignatures checks that any webhook-signature value parses
// without panicking, that every signature returned is 32 bytes and appears
// in the header as a v1 entry, and that nothing is counted twice.
func FuzzParseSignatures(f *testing.F) {
	for _, s := range []string{
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,abc v2,xyz",
		"v1,",
		",",
		"v1,dawfeoifkpqwoekfpqoekf",
		"  v1,,, \t v1,=== ",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sigs, malformed := parseSignatures(header)
		fields := strings.Fields(header)
		if len(sigs)+malformed > len(fields) {
			t.Fatalf("%d signatures and %d malformed from %d entries", len(sigs), malformed,
				len(fields))
		}
		for _, sig := range sigs {
			if len(sig) != 32 {
				t.Fatalf("signature of %d bytes", len(sig))
			}
			entry := "v1," + base64.StdEncoding.EncodeToString(sig)
			found := false
			for _, f := range fields {
				found = found || f == entry
			}
			if !found {
				t.Fatalf("%q is not an entry of %q", entry, header)
			}
		}
	})
}

// FuzzVerify checks verification both ways on arbitrary input: a webhook
// passes only if its header holds the signature computed independently
// from the secret, and the correct signature of a fresh webhook always
// passes.
func FuzzVerify(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1614265330, 0)
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("msg_1", "1614265000", "v1,AAAA v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		[]byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("a.b", "01614265330", "v1,=", []byte("\x00\xff"))
	f.Add("id", "99999999999999999999999", "v1,x", []byte("x"))

	v, err := New(Config{Secrets: []string{secret}, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, header string, body []byte) {
		err := v.VerifyValues(id, ts, header, body)
		if err == nil {
			n, perr := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
			if perr != nil {
				t.Fatalf("passed with timestamp %q", ts)
			}
			if d := now.Sub(time.Unix(n, 0)); d > DefaultTolerance || d < -DefaultTolerance {
				t.Fatalf("passed with timestamp %q, %v from now", ts, d)
			}
			want, serr := Sign(secret, id, time.Unix(n, 0), body)
			if serr != nil {
				t.Fatal(serr)
			}
			if !strings.Contains(" "+strings.Join(strings.Fields(header), " ")+" ",
				" "+want+" ") {
				t.Fatalf("passed without the right signature: %q", header)
			}
		}

		// The right signature of this message at now passes, whatever
		// else the header holds, unless the id is blank.
		if strings.TrimSpace(id) == "" {
			return
		}
		good, serr := Sign(secret, id, now, body)
		if serr != nil {
			t.Fatal(serr)
		}
		stamp := strconv.FormatInt(now.Unix(), 10)
		if err := v.VerifyValues(id, stamp, header+" "+good, body); err != nil {
			t.Fatalf("the right signature failed: %v", err)
		}
	})
}
