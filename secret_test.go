package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 20 {
		s, err := NewSecret()
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s, SecretPrefix))
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		require.NoError(t, err)
		require.Len(t, key, 32)
		require.NoError(t, ValidateSecret(s))
		require.False(t, seen[s])
		seen[s] = true
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string {
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
	}
	cases := map[string]struct {
		secret string
		want   string // "" when valid
	}{
		"24 bytes":     {secret: "whsec_" + b64(24)},
		"64 bytes":     {secret: "whsec_" + b64(64)},
		"vector":       {secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"empty":        {secret: "", want: "empty"},
		"no prefix":    {secret: b64(32), want: `does not start with "whsec_"`},
		"wrong prefix": {secret: "whsek_" + b64(32), want: "does not start"},
		"prefix only":  {secret: "whsec_", want: "key is 0 bytes"},
		"23 bytes":     {secret: "whsec_" + b64(23), want: "key is 23 bytes, want 24 to 64"},
		"65 bytes":     {secret: "whsec_" + b64(65), want: "key is 65 bytes"},
		"not base64":   {secret: "whsec_not*base64*at*all!", want: "not padded standard base64"},
		"url alphabet": {secret: "whsec_" + strings.NewReplacer("+", "-", "/",
			"_").Replace("+/+/"+b64(30)), want: "not padded"},
		"unpadded": {secret: "whsec_" + strings.TrimRight(b64(32), "="), want: "not padded"},
		"spaces":   {secret: "whsec_ " + b64(32), want: "not padded"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			key, err := parseSecret(tc.secret)
			if tc.want == "" {
				require.NoError(t, err)
				require.NotEmpty(t, key)
				return
			}
			require.ErrorContains(t, err, tc.want)
			if body := strings.TrimPrefix(tc.secret, "whsec_"); len(body) > 4 {
				require.NotContains(t, err.Error(), body)
			}
		})
	}
}

// TestSignVector: the Standard Webhooks test vector, from the reference
// libraries' test suites.
func TestSignVector(t *testing.T) {
	t.Parallel()
	key, err := parseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		[]byte(`{"test": 2432232314}`))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)

	require.Empty(t, sign(nil, "id", 1, nil))
	two := sign([][]byte{key, key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		[]byte(`{"test": 2432232314}`))
	require.Equal(t, got+" "+got, two)
}

type secretsFunc func(ctx context.Context, key string) ([]string, error)

func (f secretsFunc) SigningSecrets(ctx context.Context, key string) ([]string, error) {
	return f(ctx, key)
}

func TestSignatureFor(t *testing.T) {
	t.Parallel()
	const (
		s1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		s2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	)
	k1, _ := parseSecret(s1)
	k2, _ := parseSecret(s2)
	at := time.Unix(1614265330, 0)
	del := &Delivery{ID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Body: []byte(`{"test": 2432232314}`)}
	want1 := sign([][]byte{k1}, del.ID, at.Unix(), del.Body)
	want2 := sign([][]byte{k2}, del.ID, at.Unix(), del.Body)

	// No secret: no signature.
	d := &Dispatcher{}
	sig, err := d.signatureFor(context.Background(), del, at)
	require.NoError(t, err)
	require.Empty(t, sig)

	// Config.SigningSecrets: one signature each, in order.
	d = &Dispatcher{signingKeys: [][]byte{k1, k2}}
	sig, err = d.signatureFor(context.Background(), del, at)
	require.NoError(t, err)
	require.Equal(t, want1+" "+want2, sig)

	// A secret key: looked up at each call, so a rotation shows at once.
	current := []string{s1}
	var lookups []string
	src := secretsFunc(func(_ context.Context, key string) ([]string, error) {
		lookups = append(lookups, key)
		switch key {
		case "broken":
			return nil, errors.New("vault unreachable")
		case "empty":
			return nil, nil
		case "malformed":
			return []string{s1, "whsec_" + s2[6:20]}, nil
		}
		return current, nil
	})
	d = &Dispatcher{cfg: Config{SecretSource: src}, signingKeys: [][]byte{k2}}
	keyed := *del
	keyed.SecretKey = "customer-42"
	sig, err = d.signatureFor(context.Background(), &keyed, at)
	require.NoError(t, err)
	require.Equal(t, want1, sig)
	current = []string{s2, s1}
	sig, err = d.signatureFor(context.Background(), &keyed, at)
	require.NoError(t, err)
	require.Equal(t, want2+" "+want1, sig)
	require.Equal(t, []string{"customer-42", "customer-42"}, lookups)

	for key, want := range map[string]string{
		"broken":    `look up signing secrets of key "broken": vault unreachable`,
		"empty":     `no signing secret for key "empty"`,
		"malformed": `signing secret 1 of key "malformed": after "whsec_", not padded`,
	} {
		keyed.SecretKey = key
		_, err := d.signatureFor(context.Background(), &keyed, at)
		require.ErrorContains(t, err, want)
		require.NotContains(t, err.Error(), s2[6:20])
	}

	keyed.SecretKey = "customer-42"
	_, err = (&Dispatcher{}).signatureFor(context.Background(), &keyed, at)
	require.ErrorContains(t, err, "Config.SecretSource is nil")
}
