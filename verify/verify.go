// Package verify checks the signatures of webhooks sent by package webhook,
// or by any sender that follows the Standard Webhooks specification, for
// receivers written in Go. It uses the standard library only.
//
// A signed webhook carries three headers:
//
//	webhook-id: msg_2mb9zq...           the same on every retry of a message
//	webhook-timestamp: 1768473000       when this attempt was made, Unix seconds
//	webhook-signature: v1,K5oZ...=      one or more, separated by spaces
//
// Each signature is "v1," and the base64 HMAC-SHA256, keyed with the
// secret, of "<webhook-id>.<webhook-timestamp>.<raw body>". A webhook is
// genuine when any one of its v1 signatures matches under any one of the
// receiver's secrets (several during a rotation), and fresh when its
// timestamp is within a tolerance of the receiver's clock (5 minutes by
// default), which bounds replays.
//
// Verify the raw body, byte for byte as it arrived: a body parsed and
// encoded again is not the body that was signed. [Verifier.Middleware]
// reads it, verifies it and hands it on to the next handler.
//
// A verified webhook may still be a retry of one already processed:
// deduplicate on webhook-id.
package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, as the Standard Webhooks specification spells them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Defaults of the Config fields.
const (
	DefaultTolerance    = 5 * time.Minute
	DefaultMaxBodyBytes = 1 << 20
)

// Secrets are "whsec_" and the base64 of 24 to 64 bytes; the prefix may be
// left out.
const (
	secretPrefix   = "whsec_"
	minSecretBytes = 24
	maxSecretBytes = 64
)

// Errors that verification returns, wrapped with detail. Branch on them with
// [errors.Is].
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("verify: missing webhook headers")

	// ErrInvalidTimestamp: webhook-timestamp is not a Unix time in decimal
	// seconds.
	ErrInvalidTimestamp = errors.New("verify: invalid webhook-timestamp")

	// ErrTimestampOutOfTolerance: the timestamp is further from now than
	// the tolerance. ErrTimestampTooOld and ErrTimestampTooNew wrap it.
	ErrTimestampOutOfTolerance = errors.New("verify: webhook-timestamp out of tolerance")

	// ErrTimestampTooOld: the timestamp is more than the tolerance in the
	// past, a replay or a receiver's clock running fast.
	ErrTimestampTooOld = fmt.Errorf("%w: too old", ErrTimestampOutOfTolerance)

	// ErrTimestampTooNew: the timestamp is more than the tolerance in the
	// future, a sender's clock running fast or a receiver's running slow.
	ErrTimestampTooNew = fmt.Errorf("%w: too new", ErrTimestampOutOfTolerance)

	// ErrInvalidSignature: webhook-signature holds no well-formed v1
	// signature ("v1," and the base64 of 32 bytes).
	ErrInvalidSignature = errors.New("verify: invalid webhook-signature")

	// ErrNoMatchingSignature: no v1 signature matches under any secret:
	// the wrong secret, a changed body, or a forgery.
	ErrNoMatchingSignature = errors.New("verify: no matching signature")

	// ErrBodyTooLarge: the middleware met a body over Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("verify: body too large")
)

// Config configures a [Verifier]. Only Secrets is required.
type Config struct {
	// Secrets are the receiver's signing secrets, each "whsec_" and the
	// base64 of 24 to 64 bytes (the prefix may be left out). A webhook
	// signed with any of them passes: keep the old and the new one during
	// a rotation. At least one is required.
	Secrets []string

	// Tolerance is how far a webhook's timestamp may be from now, either
	// way. Zero means DefaultTolerance, 5 minutes.
	Tolerance time.Duration

	// Now is the clock. Nil means time.Now; tests pass a fixed time.
	Now func() time.Time

	// MaxBodyBytes caps the body the middleware reads. Zero means
	// DefaultMaxBodyBytes, 1 MiB.
	MaxBodyBytes int64

	// OnError writes the middleware's response to a webhook that fails
	// verification; err wraps one of the package's errors. Nil means a
	// plain-text reply with the error's text: 413 for ErrBodyTooLarge, 400
	// for a body that could not be read, 401 otherwise.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// Verifier checks webhooks against a set of secrets. It is safe for
// concurrent use.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
	onError   func(w http.ResponseWriter, r *http.Request, err error)
}

// New returns a Verifier for c. It returns an error naming the field at
// fault for a missing or malformed secret, never quoting the secret, or a
// negative Tolerance or MaxBodyBytes.
func New(c Config) (*Verifier, error) {
	if len(c.Secrets) == 0 {
		return nil, errors.New("verify: Config.Secrets: none given")
	}
	if c.Tolerance < 0 {
		return nil, fmt.Errorf("verify: Config.Tolerance: %v is negative", c.Tolerance)
	}
	if c.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("verify: Config.MaxBodyBytes: %d is negative", c.MaxBodyBytes)
	}
	v := &Verifier{
		tolerance: c.Tolerance,
		now:       c.Now,
		maxBody:   c.MaxBodyBytes,
		onError:   c.OnError,
	}
	for i, s := range c.Secrets {
		key, err := parseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("verify: Config.Secrets[%d]: %w", i, err)
		}
		v.keys = append(v.keys, key)
	}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxBody == 0 {
		v.maxBody = DefaultMaxBodyBytes
	}
	if v.onError == nil {
		v.onError = writeError
	}
	return v, nil
}

// Verify checks a webhook with the given secrets at time now, with the
// default tolerance. It is [Verifier.Verify] for one call.
func Verify(secrets []string, h http.Header, body []byte, now time.Time) error {
	v, err := New(Config{Secrets: secrets, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	return v.Verify(h, body)
}

// Verify checks a webhook given its headers and its raw body. It returns
// nil if the webhook is genuine and fresh, and otherwise an error wrapping
// ErrMissingHeaders, ErrInvalidTimestamp, ErrTimestampTooOld,
// ErrTimestampTooNew, ErrInvalidSignature or ErrNoMatchingSignature.
// Header names are matched in any case.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyValues(header(h, HeaderID), header(h, HeaderTimestamp),
		header(h, HeaderSignature), body)
}

// VerifyValues is Verify given the three header values. The timestamp is
// checked first, then the signatures, each compared in constant time.
func (v *Verifier) VerifyValues(id, timestamp, signature string, body []byte) error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{HeaderID, id}, {HeaderTimestamp, timestamp}, {HeaderSignature, signature},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	ts, err := v.checkTimestamp(timestamp)
	if err != nil {
		return err
	}

	sigs, malformed := parseSignatures(signature)
	if len(sigs) == 0 {
		if malformed > 0 {
			return fmt.Errorf("%w: %d entries, none is v1 and the base64 of 32 bytes",
				ErrInvalidSignature, malformed)
		}
		return fmt.Errorf("%w: no v1 signature", ErrNoMatchingSignature)
	}
	for _, key := range v.keys {
		want := mac(key, id, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %d signatures, %d secrets", ErrNoMatchingSignature,
		len(sigs), len(v.keys))
}

// maxTimestamp bounds the timestamps read, far beyond any tolerance, so
// that time arithmetic cannot overflow.
const maxTimestamp = 1 << 40

// checkTimestamp parses a webhook-timestamp and checks it against the
// tolerance.
func (v *Verifier) checkTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 20 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: not decimal Unix seconds", ErrInvalidTimestamp)
	}
	u, err := strconv.ParseUint(s, 10, 64)
	if err != nil || u > maxTimestamp {
		return 0, fmt.Errorf("%w: %s is years away", ErrTimestampTooNew, s)
	}
	ts := int64(u)
	d := v.now().Sub(time.Unix(ts, 0))
	switch {
	case d > v.tolerance:
		return 0, fmt.Errorf("%w: sent %v ago, tolerance %v", ErrTimestampTooOld,
			d.Truncate(time.Second), v.tolerance)
	case d < -v.tolerance:
		return 0, fmt.Errorf("%w: sent %v from now, tolerance %v", ErrTimestampTooNew,
			(-d).Truncate(time.Second), v.tolerance)
	}
	return ts, nil
}

// parseSignatures reads a webhook-signature value: entries separated by
// spaces, each "<version>,<base64>". It returns the decoded v1 signatures
// and counts the entries that are malformed (no comma, bad base64, not 32
// bytes). Entries of other versions, such as v1a, are skipped.
func parseSignatures(header string) (sigs [][]byte, malformed int) {
	for _, entry := range strings.Fields(header) {
		version, enc, ok := strings.Cut(entry, ",")
		if !ok {
			malformed++
			continue
		}
		if version != "v1" {
			continue
		}
		// Strict: one encoding per signature, as the reference libraries'
		// comparison of base64 strings has it.
		sig, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil || len(sig) != sha256.Size {
			malformed++
			continue
		}
		sigs = append(sigs, sig)
	}
	return sigs, malformed
}

// Sign returns the webhook-signature value a sender holding secret puts on
// a message id sent at the given time with body: "v1," and the base64
// HMAC-SHA256 of "<id>.<unix seconds>.<body>". Use it to build requests in
// a receiver's tests.
func Sign(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := parseSecret(secret)
	if err != nil {
		return "", fmt.Errorf("verify: secret: %w", err)
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, at.Unix(), body)), nil
}

// mac is the HMAC-SHA256 of "<id>.<ts>.<body>" under key.
func mac(key []byte, id string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return m.Sum(nil)
}

// parseSecret returns the key of a secret. Its errors never quote the
// secret.
func parseSecret(s string) ([]byte, error) {
	enc := strings.TrimPrefix(s, secretPrefix)
	if enc == "" {
		return nil, errors.New("empty")
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("not %s and padded standard base64", secretPrefix)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("key is %d bytes, want %d to %d", len(key),
			minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// header returns the values of the header name, in any case, joined by
// spaces: a signature header may come in several lines.
func header(h http.Header, name string) string {
	if vs := h.Values(name); len(vs) > 0 {
		return strings.Join(vs, " ")
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			return strings.Join(vs, " ")
		}
	}
	return ""
}

// Middleware returns a handler that reads each request's body (at most
// MaxBodyBytes), verifies the webhook, and calls next with the body
// restored, ready to be read again; a request that fails goes to OnError
// and never reaches next.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.maxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				err = fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, v.maxBody)
			} else {
				err = fmt.Errorf("verify: read body: %w", err)
			}
			v.onError(w, r, err)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			v.onError(w, r, err)
			return
		}

		r2 := r.WithContext(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
		r2.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		}
		next.ServeHTTP(w, r2)
	})
}

// writeError is the default OnError.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	code := http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		code = http.StatusRequestEntityTooLarge
	case !isVerifyError(err):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

func isVerifyError(err error) bool {
	for _, e := range []error{ErrMissingHeaders, ErrInvalidTimestamp,
		ErrTimestampOutOfTolerance, ErrInvalidSignature, ErrNoMatchingSignature} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
