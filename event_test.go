package webhook_test

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/stratakit/webhook"
)

const productionID = "550e8400-e29b-41d4-a716-446655440000"

func TestPayloadGolden(t *testing.T) {
	t.Parallel()
	completedAt := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	failedAt := time.Date(2026, 1, 15, 12, 30, 5, 0, time.FixedZone("CEST", 2*3600))

	completed, err := webhook.Completed(productionID,
		"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Signature=abc&X-Amz-Expires=3600",
		completedAt)
	require.NoError(t, err)
	failed, err := webhook.Failed(productionID, "Invalid video format: unsupported codec",
		failedAt.Add(900*time.Millisecond))
	require.NoError(t, err)

	for name, e := range map[string]webhook.Event{"completed": completed, "failed": failed} {
		want, err := os.ReadFile("testdata/" + name + ".golden.json")
		require.NoError(t, err)
		got, err := e.Payload()
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), name)
	}
}

func TestPayloadKeepsHTMLCharactersAndUTF8(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)
	e, err := webhook.Failed("p-1", "ffmpeg: <stream #0> & \"codec\" \x01 — échec", at)
	require.NoError(t, err)
	got, err := e.Payload()
	require.NoError(t, err)
	require.Equal(t, `{"event":"production.failed","timestamp":"2026-01-15T10:30:00Z",`+
		`"data":{"production_id":"p-1","status":"failed","output_url":null,`+
		`"error":"ffmpeg: <stream #0> & \"codec\" \u0001 — échec"}}`, string(got))
}

func TestFailedRepairsInvalidUTF8(t *testing.T) {
	t.Parallel()
	e, err := webhook.Failed("p-1", "bad \xff\xfe bytes", time.Time{})
	require.NoError(t, err)
	require.True(t, utf8.ValidString(e.Error))
	require.Equal(t, "bad \uFFFD bytes", e.Error)

	long, err := webhook.Failed("p-1", strings.Repeat("é", webhook.MaxErrorTextLen), time.Time{})
	require.NoError(t, err)
	require.LessOrEqual(t, len(long.Error), webhook.MaxErrorTextLen)
	require.True(t, utf8.ValidString(long.Error))
	require.True(t, strings.HasSuffix(long.Error, "…"))
}

func TestEventValidation(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		event webhook.Event
		want  string
	}{
		"empty production id": {
			event: webhook.Event{Type: webhook.ProductionFailed, Error: "x"},
			want:  "ProductionID: empty",
		},
		"control character in production id": {
			event: webhook.Event{Type: webhook.ProductionFailed, ProductionID: "p\r\nX-Evil: 1",
				Error: "x"},
			want: "ProductionID: byte 0x0d at offset 1",
		},
		"space in production id": {
			event: webhook.Event{Type: webhook.ProductionFailed, ProductionID: "p 1", Error: "x"},
			want:  "ProductionID: byte 0x20",
		},
		"absurd production id": {
			event: webhook.Event{Type: webhook.ProductionFailed,
				ProductionID: strings.Repeat("a", 129), Error: "x"},
			want: "ProductionID: 129 bytes, longer than 128",
		},
		"completed without output url": {
			event: webhook.Event{Type: webhook.ProductionCompleted, ProductionID: "p"},
			want:  "OutputURL: empty",
		},
		"relative output url": {
			event: webhook.Event{Type: webhook.ProductionCompleted, ProductionID: "p",
				OutputURL: "/videos/p.mp4"},
			want: "OutputURL: not an absolute URL",
		},
		"failed without error text": {
			event: webhook.Event{Type: webhook.ProductionFailed, ProductionID: "p"},
			want:  "Error: empty",
		},
		"timestamp past 9999": {
			event: webhook.Event{Type: webhook.ProductionFailed, ProductionID: "p", Error: "x",
				Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			want: "Timestamp: year 10000 is outside",
		},
		"unknown type": {
			event: webhook.Event{Type: "production.started", ProductionID: "p"},
			want:  `Type: "production.started" is not`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.event.Validate()
			require.ErrorIs(t, err, webhook.ErrInvalidEvent)
			require.ErrorContains(t, err, tc.want)
			_, err = tc.event.Payload()
			require.ErrorIs(t, err, webhook.ErrInvalidEvent)
		})
	}
}

func TestBlankErrorTextIsStillReported(t *testing.T) {
	t.Parallel()
	e, err := webhook.Failed("p", "\n", time.Time{})
	require.NoError(t, err)
	require.Equal(t, "\n", e.Error)
}

func TestOutputURLNeverEchoed(t *testing.T) {
	t.Parallel()
	_, err := webhook.Completed("p", "not a url?X-Amz-Signature=secret", time.Time{})
	require.ErrorIs(t, err, webhook.ErrInvalidEvent)
	require.NotContains(t, err.Error(), "secret")
}
