package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/verify"
	"github.com/stratakit/webhook/webhooktest"
)

const (
	secretOld = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretNew = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

// verifyAt verifies a recorded request with secret as a receiver whose
// clock reads the request's arrival time.
func verifyAt(t *testing.T, r webhooktest.Request, secrets ...string) error {
	t.Helper()
	return verify.Verify(secrets, r.Header, r.Body, r.Time)
}

// TestEveryAttemptIsSigned runs the whole schedule with two active
// secrets: each attempt carries two signatures over its own timestamp, and
// the sixth, made 12 min 36 s after the first, passes a receiver's 5-minute
// tolerance holding either secret.
func TestEveryAttemptIsSigned(t *testing.T) {
	clock := webhooktest.NewClock(time.Time{})
	recv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	recv.FailTimes(5)
	var outcomes webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock,
		SigningSecrets: []string{secretNew, secretOld}, OnAttempt: outcomes.Observe})

	e, err := webhook.Failed("p-1", "Invalid video format: unsupported codec", time.Time{})
	require.NoError(t, err)
	start := clock.Now()
	id, err := d.Send(context.Background(), recv.URL()+"/hooks", e)
	require.NoError(t, err)
	for n := 1; n < 6; n++ {
		o := outcomes.Wait(t, n)[n-1]
		clock.Set(o.Delivery.NextAttemptAt)
	}
	require.Equal(t, webhook.StatusDelivered, outcomes.WaitFinal(t, id).Delivery.Status)

	reqs := recv.WaitRequests(t, 6)
	require.Equal(t, 756*time.Second, reqs[5].Time.Sub(start))
	for i, r := range reqs {
		require.Equal(t, id, r.Header.Get("webhook-id"))
		require.Equal(t, r.Time.Unix(), mustAtoi(t, r.Header.Get("webhook-timestamp")), i)
		sigs := strings.Fields(r.Header.Get("webhook-signature"))
		require.Len(t, sigs, 2)
		require.NoError(t, verifyAt(t, r, secretNew), "attempt %d", i+1)
		require.NoError(t, verifyAt(t, r, secretOld), "attempt %d", i+1)
		name, ok := r.WireName("webhook-signature")
		require.True(t, ok)
		require.Equal(t, "webhook-signature", name)
	}

	// The last attempt's signature is its own: a receiver checking it
	// against the first attempt's time would find it too new.
	last := reqs[5]
	err = verify.Verify([]string{secretOld}, last.Header, last.Body, reqs[0].Time)
	require.ErrorIs(t, err, verify.ErrTimestampTooNew)
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}

func TestUnsignedWithoutSecret(t *testing.T) {
	clock := webhooktest.NewClock(time.Time{})
	recv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	var outcomes webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock, OnAttempt: outcomes.Observe})
	e, err := webhook.Completed("p-1", "https://assets.example/v.mp4", time.Time{})
	require.NoError(t, err)
	_, err = d.Send(context.Background(), recv.URL(), e)
	require.NoError(t, err)
	r := recv.WaitRequests(t, 1)[0]
	_, ok := r.WireName("webhook-signature")
	require.False(t, ok)
}

// rotatingSource is a SecretSource whose secrets a test changes.
type rotatingSource struct {
	mu      sync.Mutex
	secrets map[string][]string
	err     error
}

func (s *rotatingSource) SigningSecrets(_ context.Context, key string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return s.secrets[key], nil
}

func (s *rotatingSource) set(key string, secrets []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[key] = secrets
	s.err = err
}

// TestSecretKeyLookedUpAtEachAttempt: a rotation, and an outage of the
// secret store, reach a pending retry.
func TestSecretKeyLookedUpAtEachAttempt(t *testing.T) {
	clock := webhooktest.NewClock(time.Time{})
	recv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	recv.FailTimes(1)
	src := &rotatingSource{secrets: map[string][]string{"cust-7": {secretOld}}}
	var outcomes webhooktest.Outcomes
	logs := &syncBuffer{}
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock, SecretSource: src,
		SigningSecrets: []string{secretNew}, OnAttempt: outcomes.Observe,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	e, err := webhook.Completed("p-1", "https://assets.example/v.mp4", time.Time{})
	require.NoError(t, err)
	id, err := d.Send(context.Background(), recv.URL(), e, webhook.WithSecretKey("cust-7"))
	require.NoError(t, err)

	// Attempt 1: signed with the key's secret only, not the default.
	o := outcomes.Wait(t, 1)[0]
	r := recv.WaitRequests(t, 1)[0]
	require.NoError(t, verifyAt(t, r, secretOld))
	require.ErrorIs(t, verifyAt(t, r, secretNew), verify.ErrNoMatchingSignature)

	// The secret store fails: attempt 2 fails without sending, and is
	// retried.
	src.set("cust-7", []string{secretOld}, errors.New("vault sealed"))
	clock.Set(o.Delivery.NextAttemptAt)
	o = outcomes.Wait(t, 2)[1]
	require.Equal(t, webhook.StatusPending, o.Delivery.Status)
	require.Contains(t, o.Attempt.Error, `look up signing secrets of key "cust-7": vault sealed`)
	require.Len(t, recv.Requests(), 1)

	// Rotated: attempt 3 carries the new secret's signature.
	src.set("cust-7", []string{secretNew}, nil)
	clock.Set(o.Delivery.NextAttemptAt)
	require.Equal(t, webhook.StatusDelivered, outcomes.WaitFinal(t, id).Delivery.Status)
	r = recv.WaitRequests(t, 2)[1]
	require.NoError(t, verifyAt(t, r, secretNew))
	require.ErrorIs(t, verifyAt(t, r, secretOld), verify.ErrNoMatchingSignature)

	// No secret anywhere: not in the log, not in the attempt log.
	attempts, err := d.Attempts(context.Background(), id)
	require.NoError(t, err)
	var record bytes.Buffer
	require.NoError(t, json.NewEncoder(&record).Encode(attempts))
	for _, s := range []string{secretOld, secretNew} {
		for _, text := range []string{logs.String(), record.String()} {
			require.NotContains(t, text, s)
			require.NotContains(t, text, s[len("whsec_"):])
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNewRefusesBadSecrets(t *testing.T) {
	bad := "whsec_" + secretNew[6:30] // cut short: not base64 of 24 bytes
	_, err := webhook.New(webhook.Config{Store: webhook.NewMemoryStore(),
		SigningSecrets: []string{secretOld, bad}})
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	require.ErrorContains(t, err, "SigningSecrets[1]")
	require.NotContains(t, err.Error(), secretNew[6:30])

	_, err = webhook.New(webhook.Config{Store: webhook.NewMemoryStore(),
		SigningSecrets: []string{"hunter2hunter2hunter2hunter2hunter2"}})
	require.ErrorContains(t, err, `SigningSecrets[0]: does not start with "whsec_"`)
	require.NotContains(t, err.Error(), "hunter2")

	require.ErrorContains(t, webhook.ValidateSecret("whsec_AAAA"), "key is 3 bytes")
}

func ExampleNewSecret() {
	secret, err := webhook.NewSecret()
	if err != nil {
		return
	}
	// Give the secret to the customer once; keep it as a password.
	_ = webhook.Config{SigningSecrets: []string{secret}}
	fmt.Println(strings.HasPrefix(secret, "whsec_"), len(secret))
	// Output: true 50
}
