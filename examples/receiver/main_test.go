package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestDemo runs the offline demo: one delivery processed, its replay
// skipped, a forgery and a stale request refused.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 5, out.String())
	require.Regexp(t, `^msg_\w+ attempt 1: production 550e8400-e29b-41d4-a716-446655440000 `+
		`completed: https://assets\.stratakit\.io/v/550e8400\.mp4\?X-Amz-Signature=abc$`, lines[0])
	require.Regexp(t, `^sender: msg_\w+ delivered$`, lines[1])
	require.Regexp(t, `^msg_\w+ attempt 1: duplicate, skipped$`, lines[2])
	require.Equal(t, "refused: verify: no matching signature: 1 signatures, 1 secrets", lines[3])
	require.Regexp(t,
		`^refused: verify: webhook-timestamp out of tolerance: too old: sent 10m\d+s ago`,
		lines[4])
}

func TestHandlerForgetsWhatItCouldNotProcess(t *testing.T) {
	var out bytes.Buffer
	seen := newDedup()
	h := newHandler(seen, &out)
	post := func(body string) int {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("webhook-id", "msg_1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusBadRequest, post("{"))
	require.Equal(t, http.StatusNoContent,
		post(`{"event":"production.failed","data":{"error":"x"}}`))
	require.Equal(t, http.StatusOK, post(`{"event":"production.failed","data":{"error":"x"}}`))
	require.Contains(t, out.String(), "duplicate, skipped")
}

func TestServeNeedsASecret(t *testing.T) {
	t.Setenv("STRATAKIT_WEBHOOK_SECRET", "")
	err := run([]string{"-listen", "127.0.0.1:0"}, &bytes.Buffer{})
	require.ErrorContains(t, err, "STRATAKIT_WEBHOOK_SECRET: verify: Config.Secrets[0]: empty")
}
