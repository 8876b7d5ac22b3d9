package interop_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/verify"
	"github.com/stratakit/webhook/webhooktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// verifyCase and signCase are the input of verify.js; see its header.
type verifyCase struct {
	Name       string            `json:"name"`
	Secret     string            `json:"secret"`
	Headers    map[string]string `json:"headers"`
	BodyBase64 string            `json:"body_base64"`
	Now        *int64            `json:"now,omitempty"`
}

type signCase struct {
	Name       string `json:"name"`
	Secret     string `json:"secret"`
	ID         string `json:"id"`
	Timestamp  int64  `json:"timestamp"`
	BodyBase64 string `json:"body_base64"`
}

type nodeResult struct {
	Verify []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"verify"`
	Sign []struct {
		Name      string `json:"name"`
		Signature string `json:"signature"`
	} `json:"sign"`
}

// runNode runs verify.js on the cases. It skips the test when node or the
// npm package is missing, and only then.
func runNode(t *testing.T, verifies []verifyCase, signs []signCase) nodeResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("interop: node is not on PATH; install Node.js 18 or later to run this test")
	}
	if _, err := os.Stat("node_modules/standardwebhooks/package.json"); err != nil {
		t.Skip("interop: node_modules is missing; run `npm ci` in interop/ " +
			"(.ci/run does) to install the pinned standardwebhooks package")
	}

	in, err := json.Marshal(map[string]any{"verify": verifies, "sign": signs})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "verify.js")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node verify.js: %s", stderr.String())

	var res nodeResult
	require.NoError(t, json.Unmarshal(out, &res), "node output: %s", out)
	require.Len(t, res.Verify, len(verifies))
	require.Len(t, res.Sign, len(signs))
	return res
}

func webhookHeaders(r webhooktest.Request) map[string]string {
	return map[string]string{
		"webhook-id":        r.Header.Get("webhook-id"),
		"webhook-timestamp": r.Header.Get("webhook-timestamp"),
		"webhook-signature": r.Header.Get("webhook-signature"),
	}
}

// TestNPMVerifiesDispatcherAttempts sends two webhooks through a real
// Dispatcher, signed with two secrets, each failing five times; the
// standardwebhooks package verifies every attempt as it went on the wire.
// The fake clock starts 756 s in the past, so that the sixth attempt,
// made 12 min 36 s after the first, is stamped with the real time and
// passes npm's check against the real clock, while the first is too old.
func TestNPMVerifiesDispatcherAttempts(t *testing.T) {
	newSecret, err := webhook.NewSecret()
	require.NoError(t, err)
	const oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	start := time.Now().Add(-756 * time.Second).Truncate(time.Second)
	clock := webhooktest.NewClock(start)
	recv := webhooktest.NewReceiver(t, webhooktest.WithClock(clock))
	recv.Respond(func(r webhooktest.Request) webhooktest.Response {
		if r.Header.Get(webhook.HeaderDelivery) != "6" {
			return webhooktest.Status(http.StatusServiceUnavailable)
		}
		return webhooktest.Response{}
	})
	var outcomes webhooktest.Outcomes
	d := webhooktest.NewDispatcher(t, webhook.Config{Clock: clock,
		SigningSecrets: []string{newSecret, oldSecret}, OnAttempt: outcomes.Observe})

	completed, err := webhook.Completed("550e8400-e29b-41d4-a716-446655440000",
		"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Signature=ab%2Fc&X-Amz-Expires=3600",
		time.Time{})
	require.NoError(t, err)
	failed, err := webhook.Failed("prod-2", "Invalid video format: «h265» <10-bit> & more\xff",
		time.Time{})
	require.NoError(t, err)
	var ids []string
	for _, e := range []webhook.Event{completed, failed} {
		id, err := d.Send(context.Background(), recv.URL()+"/hooks/stratakit?tenant=7", e)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	for n := 1; n < 6; n++ {
		outs := outcomes.Wait(t, 2*n)
		clock.Set(outs[2*n-1].Delivery.NextAttemptAt)
	}
	for _, id := range ids {
		require.Equal(t, webhook.StatusDelivered, outcomes.WaitFinal(t, id).Delivery.Status)
	}

	var cases []verifyCase
	reqs := recv.WaitRequests(t, 12)
	for _, r := range reqs {
		n := r.Header.Get(webhook.HeaderDelivery)
		at := r.Time.Unix()
		for _, secret := range []string{newSecret, oldSecret} {
			which := map[bool]string{true: "new", false: "old"}[secret == newSecret]
			c := verifyCase{Secret: secret, Headers: webhookHeaders(r),
				BodyBase64: base64.StdEncoding.EncodeToString(r.Body)}
			// Every attempt, at its own time.
			c.Name, c.Now = fmt.Sprintf("%s attempt %s %s secret at its time",
				r.Header.Get("webhook-id"), n, which), &at
			cases = append(cases, c)
			// The sixth and the first against the real clock.
			if n == "6" || n == "1" {
				c.Name, c.Now = fmt.Sprintf("%s attempt %s %s secret now",
					r.Header.Get("webhook-id"), n, which), nil
				cases = append(cases, c)
			}
		}
		if n == "6" {
			require.Equal(t, 756*time.Second, r.Time.Sub(start))
			tampered := verifyCase{Name: "tampered " + n, Secret: oldSecret,
				Headers: webhookHeaders(r), Now: &at,
				BodyBase64: base64.StdEncoding.EncodeToString(append(r.Body, ' '))}
			cases = append(cases, tampered)
		}
	}

	res := runNode(t, cases, nil)
	checked := 0
	for _, got := range res.Verify {
		switch {
		case bytes.Contains([]byte(got.Name), []byte("attempt 1 ")) &&
			bytes.HasSuffix([]byte(got.Name), []byte(" now")):
			require.False(t, got.OK, got.Name)
			require.Equal(t, "Message timestamp too old", got.Error, got.Name)
		case bytes.HasPrefix([]byte(got.Name), []byte("tampered")):
			require.False(t, got.OK, got.Name)
			require.Equal(t, "No matching signature found", got.Error, got.Name)
		default:
			require.True(t, got.OK, "%s: %s", got.Name, got.Error)
			checked++
		}
	}
	// 12 attempts x 2 secrets at their own time, plus the 2 sixth attempts
	// x 2 secrets against the real clock.
	require.Equal(t, 28, checked)
}

// TestVectorWithNPM: the Standard Webhooks test vector passes both ways
// between our code and the npm package, and each verifies what the other
// signs with a fresh secret.
func TestVectorWithNPM(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = int64(1614265330)
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	fresh, err := webhook.NewSecret()
	require.NoError(t, err)
	now := time.Now().Unix()
	freshBody := `{"event":"production.failed","data":{"error":"«codec» & <x>"}}`

	ours, err := verify.Sign(fresh, "msg_ours", time.Unix(now, 0), []byte(freshBody))
	require.NoError(t, err)
	res := runNode(t,
		[]verifyCase{
			{Name: "vector", Secret: secret, Now: ptr(ts),
				BodyBase64: base64.StdEncoding.EncodeToString([]byte(body)),
				Headers: map[string]string{"webhook-id": id,
					"webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": want}},
			{Name: "ours", Secret: fresh,
				BodyBase64: base64.StdEncoding.EncodeToString([]byte(freshBody)),
				Headers: map[string]string{"webhook-id": "msg_ours",
					"webhook-timestamp": strconv.FormatInt(now, 10), "webhook-signature": ours}},
		},
		[]signCase{
			{Name: "vector", Secret: secret, ID: id, Timestamp: ts,
				BodyBase64: base64.StdEncoding.EncodeToString([]byte(body))},
			{Name: "theirs", Secret: fresh, ID: "msg_theirs", Timestamp: now,
				BodyBase64: base64.StdEncoding.EncodeToString([]byte(freshBody))},
		})

	for _, v := range res.Verify {
		require.True(t, v.OK, "%s: %s", v.Name, v.Error)
	}
	require.Equal(t, want, res.Sign[0].Signature)
	mine, err := verify.Sign(secret, id, time.Unix(ts, 0), []byte(body))
	require.NoError(t, err)
	require.Equal(t, want, mine)

	h := http.Header{}
	h.Set("webhook-id", "msg_theirs")
	h.Set("webhook-timestamp", strconv.FormatInt(now, 10))
	h.Set("webhook-signature", res.Sign[1].Signature)
	require.NoError(t, verify.Verify([]string{fresh}, h, []byte(freshBody), time.Now()))
}

func ptr[T any](v T) *T { return &v }
