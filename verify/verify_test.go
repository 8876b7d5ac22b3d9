package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook/verify"
)

// The Standard Webhooks specification's published test vector, from the
// test suites of its reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(vectorTimestamp, 0)

// Two other secrets, for rotation and wrong-secret cases.
const (
	secretA = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	secretB = "whsec_8b4VxWaq2V7mIjMOdE8hGQ7Nq84pcXW8sQJbHxJ5kYI="
)

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(verify.HeaderID, id)
	h.Set(verify.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(verify.HeaderSignature, sig)
	return h
}

func newVerifier(t *testing.T, now time.Time, secrets ...string) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{Secrets: secrets, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return v
}

func TestVectorBothWays(t *testing.T) {
	t.Parallel()
	// Our signer makes the published signature...
	sig, err := verify.Sign(vectorSecret, vectorID, vectorTime, []byte(vectorBody))
	require.NoError(t, err)
	require.Equal(t, vectorSignature, sig)

	// ...and our verifier accepts it, with or without the prefix.
	h := headers(vectorID, vectorTimestamp, vectorSignature)
	require.NoError(t, verify.Verify([]string{vectorSecret}, h, []byte(vectorBody), vectorTime))
	require.NoError(t, verify.Verify([]string{strings.TrimPrefix(vectorSecret, "whsec_")}, h,
		[]byte(vectorBody), vectorTime))

	// Not a byte more.
	err = verify.Verify([]string{vectorSecret}, h, []byte(vectorBody+"\n"), vectorTime)
	require.ErrorIs(t, err, verify.ErrNoMatchingSignature)
}

func TestTolerance(t *testing.T) {
	t.Parallel()
	h := headers(vectorID, vectorTimestamp, vectorSignature)
	body := []byte(vectorBody)
	cases := map[string]struct {
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		"now":         {now: vectorTime},
		"5 min later": {now: vectorTime.Add(5 * time.Minute)},
		"5 min 1 s later": {now: vectorTime.Add(5*time.Minute + time.Second),
			want: verify.ErrTimestampTooOld},
		"5 min earlier": {now: vectorTime.Add(-5 * time.Minute)},
		"5 min 1 s earlier": {now: vectorTime.Add(-5*time.Minute - time.Second),
			want: verify.ErrTimestampTooNew},
		"an hour later":       {now: vectorTime.Add(time.Hour), want: verify.ErrTimestampTooOld},
		"custom tolerance ok": {now: vectorTime.Add(time.Hour), tolerance: 2 * time.Hour},
		"custom tolerance": {now: vectorTime.Add(-31 * time.Second), tolerance: 30 * time.Second,
			want: verify.ErrTimestampTooNew},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := verify.New(verify.Config{Secrets: []string{vectorSecret},
				Tolerance: tc.tolerance, Now: func() time.Time { return tc.now }})
			require.NoError(t, err)
			err = v.Verify(h, body)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, verify.ErrTimestampOutOfTolerance)
		})
	}
}

func TestSeveralSignaturesAndSecrets(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"production.completed"}`)
	now := time.Unix(1768473000, 0)
	sigA, err := verify.Sign(secretA, "msg_1", now, body)
	require.NoError(t, err)
	sigB, err := verify.Sign(secretB, "msg_1", now, body)
	require.NoError(t, err)
	other := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	// The same 32 bytes with a padding bit set: a second spelling, refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, sigA[len(sigA)-2])
	nonCanonical := sigA[:len(sigA)-2] + string(alphabet[i^1]) + "="

	cases := map[string]struct {
		secrets []string
		header  string
		want    error
	}{
		"one": {secrets: []string{secretA}, header: sigA},
		"any of several": {secrets: []string{secretA},
			header: other + " v2," + sigA[3:] + " " + sigA + " " + other},
		"sender rotating":   {secrets: []string{secretB}, header: sigA + " " + sigB},
		"receiver rotating": {secrets: []string{secretA, secretB}, header: sigB},
		"wrong secret": {secrets: []string{secretB}, header: sigA,
			want: verify.ErrNoMatchingSignature},
		"only other version": {secrets: []string{secretA}, header: "v1a," + sigA[3:],
			want: verify.ErrNoMatchingSignature},
		"version in caps": {secrets: []string{secretA}, header: "V1," + sigA[3:],
			want: verify.ErrNoMatchingSignature},
		"extra spaces": {secrets: []string{secretA},
			header: "  " + other + "   " + sigA + " "},
		"several lines": {secrets: []string{secretA}, header: other + "\n" + sigA},
		"garbage": {secrets: []string{secretA}, header: "v1,dawfeoifkpqwoekfpqoekf",
			want: verify.ErrInvalidSignature},
		"empty v1": {secrets: []string{secretA}, header: "v1,",
			want: verify.ErrInvalidSignature},
		"truncated": {secrets: []string{secretA}, header: sigA[:8],
			want: verify.ErrInvalidSignature},
		"no comma": {secrets: []string{secretA}, header: sigA[3:],
			want: verify.ErrInvalidSignature},
		"non-canonical": {secrets: []string{secretA}, header: nonCanonical,
			want: verify.ErrInvalidSignature},
		"unpadded": {secrets: []string{secretA}, header: strings.TrimRight(sigA, "="),
			want: verify.ErrInvalidSignature},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, now, tc.secrets...)
			err := v.VerifyValues("msg_1", strconv.FormatInt(now.Unix(), 10), tc.header, body)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, vectorTime, vectorSecret)
	body := []byte(vectorBody)
	ts := strconv.Itoa(vectorTimestamp)
	cases := map[string]struct {
		id, ts, sig string
		body        []byte
		want        error
		text        string
	}{
		"no id": {ts: ts, sig: vectorSignature, want: verify.ErrMissingHeaders,
			text: "webhook-id"},
		"blank id": {id: " ", ts: ts, sig: vectorSignature, want: verify.ErrMissingHeaders},
		"no timestamp": {id: vectorID, sig: vectorSignature, want: verify.ErrMissingHeaders,
			text: "webhook-timestamp"},
		"no signature": {id: vectorID, ts: ts, want: verify.ErrMissingHeaders,
			text: "webhook-signature"},
		"none": {want: verify.ErrMissingHeaders,
			text: "webhook-id, webhook-timestamp, webhook-signature"},
		"word": {id: vectorID, ts: "hello", sig: vectorSignature,
			want: verify.ErrInvalidTimestamp},
		"negative": {id: vectorID, ts: "-1614265330", sig: vectorSignature,
			want: verify.ErrInvalidTimestamp},
		"float": {id: vectorID, ts: "1614265330.5", sig: vectorSignature,
			want: verify.ErrInvalidTimestamp},
		"exponent": {id: vectorID, ts: "1.6e9", sig: vectorSignature,
			want: verify.ErrInvalidTimestamp},
		"huge": {id: vectorID, ts: "99999999999999999999", sig: vectorSignature,
			want: verify.ErrTimestampTooNew},
		"zero": {id: vectorID, ts: "0", sig: vectorSignature,
			want: verify.ErrTimestampTooOld},
		"other id": {id: "msg_other", ts: ts, sig: vectorSignature,
			want: verify.ErrNoMatchingSignature},
		"other body": {id: vectorID, ts: ts, sig: vectorSignature,
			body: []byte(`{"test": 1}`), want: verify.ErrNoMatchingSignature},
		"timestamp moved": {id: vectorID, ts: strconv.Itoa(vectorTimestamp + 1),
			sig:  vectorSignature,
			want: verify.ErrNoMatchingSignature},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := body
			if tc.body != nil {
				b = tc.body
			}
			err := v.VerifyValues(tc.id, tc.ts, tc.sig, b)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.text)
		})
	}

	// Leading zeros are read as the number they spell, as the reference
	// libraries do.
	require.NoError(t, v.VerifyValues(vectorID, "0"+ts, vectorSignature, body))
}

func TestHeaderNamesInAnyCase(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, vectorTime, vectorSecret)
	raw := http.Header{
		"webhook-id":        {vectorID},
		"WEBHOOK-TIMESTAMP": {strconv.Itoa(vectorTimestamp)},
		"Webhook-Signature": {vectorSignature},
	}
	require.NoError(t, v.Verify(raw, []byte(vectorBody)))
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	short := "whsec_" + "c2hvcnQtc2VjcmV0" // 12 bytes
	cases := map[string]struct {
		cfg  verify.Config
		want string
	}{
		"no secrets":   {cfg: verify.Config{}, want: "Config.Secrets: none given"},
		"empty secret": {cfg: verify.Config{Secrets: []string{""}}, want: "Secrets[0]: empty"},
		"not base64": {cfg: verify.Config{Secrets: []string{vectorSecret, "whsec_not*base64!"}},
			want: "Secrets[1]: not whsec_ and padded standard base64"},
		"short": {cfg: verify.Config{Secrets: []string{short}},
			want: "key is 12 bytes, want 24 to 64"},
		"tolerance": {cfg: verify.Config{Secrets: []string{vectorSecret},
			Tolerance: -time.Second}, want: "Config.Tolerance"},
		"max body": {cfg: verify.Config{Secrets: []string{vectorSecret}, MaxBodyBytes: -1},
			want: "Config.MaxBodyBytes"},
		"prefix only": {cfg: verify.Config{Secrets: []string{"whsec_"}}, want: "empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := verify.New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
			for _, s := range tc.cfg.Secrets {
				if len(s) > len("whsec_") {
					require.NotContains(t, err.Error(), s[len("whsec_"):])
				}
			}
		})
	}
	_, err := verify.Sign("nope", "id", vectorTime, nil)
	require.ErrorContains(t, err, "verify: secret:")
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var got []byte
	var gotLen int64
	calls := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		got, _ = io.ReadAll(r.Body)
		gotLen = r.ContentLength
		again, err := r.GetBody()
		require.NoError(t, err)
		b, _ := io.ReadAll(again)
		require.Equal(t, got, b)
		w.WriteHeader(http.StatusNoContent)
	})
	v, err := verify.New(verify.Config{Secrets: []string{vectorSecret}, MaxBodyBytes: 64,
		Now: func() time.Time { return vectorTime }})
	require.NoError(t, err)
	h := v.Middleware(next)

	post := func(body string, hdr http.Header) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/hooks/stratakit", strings.NewReader(body))
		for k, vs := range hdr {
			r.Header[k] = vs
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := post(vectorBody, headers(vectorID, vectorTimestamp, vectorSignature))
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, vectorBody, string(got))
	require.Equal(t, int64(len(vectorBody)), gotLen)
	require.Equal(t, 1, calls)

	w = post(`{"test": 1}`, headers(vectorID, vectorTimestamp, vectorSignature))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Body.String(), "no matching signature")

	w = post(vectorBody, http.Header{})
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Body.String(), "missing webhook headers")

	w = post(strings.Repeat("x", 65), headers(vectorID, vectorTimestamp, vectorSignature))
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Equal(t, 1, calls)

	// A body that fails to read.
	r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(strings.NewReader("{"),
		errReader{}))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, 1, calls)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestMiddlewareOnError(t *testing.T) {
	t.Parallel()
	var seen error
	v, err := verify.New(verify.Config{Secrets: []string{vectorSecret},
		Now: func() time.Time { return vectorTime.Add(time.Hour) },
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			seen = err
			w.WriteHeader(http.StatusTeapot)
		}})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(vectorBody)))
	for k, vs := range headers(vectorID, vectorTimestamp, vectorSignature) {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	require.Equal(t, http.StatusTeapot, w.Code)
	require.ErrorIs(t, seen, verify.ErrTimestampTooOld)
}

func ExampleVerifier_Middleware() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from your environment
	v, err := verify.New(verify.Config{Secrets: []string{secret},
		Now: func() time.Time { return time.Unix(1614265330, 0) }}) // tests only
	if err != nil {
		log.Fatal(err)
	}
	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // verified, byte for byte
		fmt.Printf("verified %s: %s\n", r.Header.Get("webhook-id"), body)
	}))

	r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(`{"test": 2432232314}`))
	r.Header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	r.Header.Set("webhook-timestamp", "1614265330")
	r.Header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output: verified msg_p5jXN8AQM9LWM0D4loKWxJek: {"test": 2432232314}
}
