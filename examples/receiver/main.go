// Command receiver is a webhook receiver written in Go: it verifies every
// webhook's signature with package verify and processes each message once,
// deduplicating on webhook-id.
//
// Serve on an address, with the signing secret from the environment:
//
//	STRATAKIT_WEBHOOK_SECRET=whsec_... go run ./examples/receiver -listen :8080
//
// Without -listen it runs offline, on loopback, and shows what it does: a
// Dispatcher sends it a signed webhook, which is processed; the same
// request arriving again is skipped as a duplicate; a forged and a stale
// request are refused.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/stratakit/webhook"
	"github.com/stratakit/webhook/verify"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	flags := flag.NewFlagSet("receiver", flag.ContinueOnError)
	listen := flags.String("listen", "", "address to serve on, e.g. :8080 (default: offline demo)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *listen == "" {
		return demo(out)
	}

	v, err := verify.New(verify.Config{Secrets: []string{os.Getenv("STRATAKIT_WEBHOOK_SECRET")}})
	if err != nil {
		return fmt.Errorf("STRATAKIT_WEBHOOK_SECRET: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/stratakit", v.Middleware(newHandler(newDedup(), out)))
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "listening on %s\n", *listen)
	return srv.ListenAndServe()
}

// event is the part of the payload this receiver reads.
type event struct {
	Event string `json:"event"`
	Data  struct {
		ProductionID string  `json:"production_id"`
		OutputURL    *string `json:"output_url"`
		Error        *string `json:"error"`
	} `json:"data"`
}

// newHandler processes verified webhooks, each message once.
func newHandler(seen *dedup, out io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(verify.HeaderID)
		attempt := r.Header.Get(webhook.HeaderDelivery)
		if !seen.claim(id) {
			fmt.Fprintf(out, "%s attempt %s: duplicate, skipped\n", id, attempt)
			w.WriteHeader(http.StatusOK) // processed before: stop the retries
			return
		}

		var e event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			seen.forget(id) // not processed: let a retry try again
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		switch e.Event {
		case string(webhook.ProductionCompleted):
			fmt.Fprintf(out, "%s attempt %s: production %s completed: %s\n",
				id, attempt, e.Data.ProductionID, deref(e.Data.OutputURL))
		case string(webhook.ProductionFailed):
			fmt.Fprintf(out, "%s attempt %s: production %s failed: %s\n",
				id, attempt, e.Data.ProductionID, deref(e.Data.Error))
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func deref(s *string) string {
	if s == nil {
		return "(null)"
	}
	return *s
}

// dedup remembers the webhook IDs processed in the last day; retries end
// within 13 minutes. A receiver with several instances keeps them in its
// database instead, under a unique constraint.
type dedup struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const dedupWindow = 24 * time.Hour

func newDedup() *dedup { return &dedup{seen: map[string]time.Time{}} }

// claim reports whether id is new, and records it.
func (d *dedup) claim(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for k, at := range d.seen {
		if now.Sub(at) > dedupWindow {
			delete(d.seen, k)
		}
	}
	if _, ok := d.seen[id]; ok {
		return false
	}
	d.seen[id] = now
	return true
}

func (d *dedup) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.seen, id)
}

// demo runs the receiver on loopback and sends it a real webhook, then a
// duplicate, a forgery and a stale replay.
func demo(out io.Writer) error {
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	v, err := verify.New(verify.Config{Secrets: []string{secret},
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Fprintf(out, "refused: %v\n", err)
			http.Error(w, "verification failed", http.StatusUnauthorized)
		}})
	if err != nil {
		return err
	}

	// The receiver keeps a copy of the last request that reached it, to
	// replay it below.
	var last capture
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/stratakit", last.wrap(v.Middleware(newHandler(newDedup(), out))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/webhooks/stratakit"

	// The sender: a Dispatcher with the same secret. Plain http and
	// loopback are allowed for this demo only.
	outcomes := make(chan webhook.Delivery, 1)
	d, err := webhook.New(webhook.Config{
		Store:          webhook.NewMemoryStore(),
		SigningSecrets: []string{secret},
		AllowHTTP:      true,
		Allow:          []string{"127.0.0.1"},
		OnAttempt:      func(del webhook.Delivery, _ webhook.Attempt) { outcomes <- del },
	})
	if err != nil {
		return err
	}
	if err := d.Start(); err != nil {
		return err
	}
	defer d.Stop(context.Background())
	e, err := webhook.Completed("550e8400-e29b-41d4-a716-446655440000",
		"https://assets.stratakit.io/v/550e8400.mp4?X-Amz-Signature=abc", time.Now())
	if err != nil {
		return err
	}
	if _, err := d.Send(context.Background(), url, e); err != nil {
		return err
	}
	select {
	case del := <-outcomes:
		fmt.Fprintf(out, "sender: %s %s\n", del.ID, del.Status)
	case <-time.After(10 * time.Second):
		return errors.New("no delivery within 10 s")
	}

	// The same request again, as when a reply was lost and the sender
	// retried: verified, then skipped.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	h, body := last.get()
	if err := post(client, url, h, body); err != nil {
		return err
	}

	// A forgery: the body changed after signing.
	forged := append(body[:len(body)-1:len(body)-1], ' ', '}')
	if err := post(client, url, h, forged); err != nil {
		return err
	}

	// A replay from ten minutes ago, correctly signed for that time.
	old := time.Now().Add(-10 * time.Minute)
	sig, err := verify.Sign(secret, h.Get(verify.HeaderID), old, body)
	if err != nil {
		return err
	}
	stale := h.Clone()
	stale.Set(verify.HeaderTimestamp, strconv.FormatInt(old.Unix(), 10))
	stale.Set(verify.HeaderSignature, sig)
	return post(client, url, stale, body)
}

// capture keeps the headers and body of the last request.
type capture struct {
	mu     sync.Mutex
	header http.Header
	body   []byte
}

func (c *capture) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.header, c.body = r.Header.Clone(), body
		c.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (c *capture) get() (http.Header, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header.Clone(), append([]byte(nil), c.body...)
}

// post sends body with the given headers.
func post(client *http.Client, url string, h http.Header, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
