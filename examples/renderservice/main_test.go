package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stratakit/webhook/webhooktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServiceSendsAndStopsGracefully runs the service, reports a render,
// sees the webhook arrive, and shuts the service down as SIGTERM would.
func TestServiceSendsAndStopsGracefully(t *testing.T) {
	recv := webhooktest.NewReceiver(t)
	ctx, terminate := context.WithCancel(context.Background())
	defer terminate()
	ready := make(chan string, 1)
	stopped := make(chan error, 1)
	args := []string{"-listen", "127.0.0.1:0", "-allow-local",
		"-db", filepath.Join(t.TempDir(), "render.db")}
	go func() { stopped <- run(ctx, args, slog.New(slog.DiscardHandler), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-stopped:
		t.Fatal(err)
	}

	form := url.Values{"webhook_url": {recv.URL() + "/hooks"},
		"output_url": {"https://cdn.example/v.mp4"}}
	for range 2 { // the render job reports twice; one webhook goes out
		resp, err := http.PostForm("http://"+addr+"/renders/prod-1/done", form)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		require.True(t, strings.HasPrefix(string(body), "msg_"))
	}
	got := recv.WaitRequests(t, 1)
	require.Equal(t, "prod-1", got[0].Header.Get("X-StrataKit-Production-Id"))

	resp, err := http.PostForm("http://"+addr+"/renders/prod-2/done",
		url.Values{"webhook_url": {"ftp://x"}, "output_url": {"https://cdn.example/v.mp4"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	terminate()
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(stopBudget):
		t.Fatal("no graceful stop within the budget")
	}
	require.Len(t, recv.Requests(), 1)
	http.DefaultClient.CloseIdleConnections()
}
