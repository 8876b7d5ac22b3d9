package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// EventType names a webhook event as it appears in the payload's "event"
// key.
type EventType string

// The two events a render service sends.
const (
	// ProductionCompleted is sent when a video finished rendering; its
	// payload carries the output URL.
	ProductionCompleted EventType = "production.completed"
	// ProductionFailed is sent when rendering failed; its payload carries
	// the error text.
	ProductionFailed EventType = "production.failed"
)

// Limits on event fields. The production ID travels in the
// X-StrataKit-Production-Id header, so it is held to what every HTTP stack
// accepts there.
const (
	// MaxProductionIDLen is the longest production ID accepted, in bytes.
	MaxProductionIDLen = 128
	// MaxErrorTextLen is the longest error text kept, in bytes; a longer
	// one is cut at a rune boundary and ends in "…".
	MaxErrorTextLen = 4096
	// MaxOutputURLLen is the longest output URL accepted, in bytes.
	MaxOutputURLLen = 8192
)

// Event is one webhook event about one production. Build it with
// [Completed] or [Failed]; a hand-built Event is checked the same way when
// it is sent.
type Event struct {
	// Type is ProductionCompleted or ProductionFailed.
	Type EventType
	// ProductionID identifies the production; it is sent in the payload
	// and in the X-StrataKit-Production-Id header. Printable ASCII without
	// spaces, at most MaxProductionIDLen bytes.
	ProductionID string
	// OutputURL is the rendered video's URL: an absolute URL, required for
	// ProductionCompleted and ignored (sent as null) for ProductionFailed.
	OutputURL string
	// Error is the reason rendering failed: required for ProductionFailed
	// and ignored (sent as null) for ProductionCompleted. Invalid UTF-8 is
	// repaired, never refused.
	Error string
	// Timestamp is when the event happened. It is sent in UTC, RFC 3339,
	// truncated to whole seconds. The zero time means "now" on the
	// Dispatcher's clock when the event is sent.
	Timestamp time.Time
}

// Completed returns a production.completed event for a production whose
// video is ready at outputURL. at is when rendering finished; the zero time
// means the Dispatcher's clock when the event is sent. It returns an error
// wrapping [ErrInvalidEvent] naming the field at fault.
func Completed(productionID, outputURL string, at time.Time) (Event, error) {
	e := Event{Type: ProductionCompleted, ProductionID: productionID,
		OutputURL: outputURL, Timestamp: at}
	return e, e.Validate()
}

// Failed returns a production.failed event for a production whose render
// failed with errText. Invalid UTF-8 in errText is replaced with U+FFFD and
// text longer than MaxErrorTextLen is shortened, so a failed render is
// always reported. at is when rendering failed; the zero time means the
// Dispatcher's clock when the event is sent. It returns an error wrapping
// [ErrInvalidEvent] naming the field at fault.
func Failed(productionID, errText string, at time.Time) (Event, error) {
	e := Event{Type: ProductionFailed, ProductionID: productionID,
		Error: repairText(errText), Timestamp: at}
	return e, e.Validate()
}

// Validate reports whether the event can be sent, with an error wrapping
// [ErrInvalidEvent] that names the field and the value's problem.
func (e Event) Validate() error {
	if err := validateProductionID(e.ProductionID); err != nil {
		return err
	}
	if y := e.Timestamp.UTC().Year(); !e.Timestamp.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("%w: Timestamp: year %d is outside RFC 3339's 0001 to 9999",
			ErrInvalidEvent, y)
	}
	switch e.Type {
	case ProductionCompleted:
		return validateOutputURL(e.OutputURL)
	case ProductionFailed:
		// Only the empty text is refused: whatever a render tool printed,
		// even blank lines, is better reported than dropped.
		if e.Error == "" {
			return fmt.Errorf("%w: Error: empty for a failed production", ErrInvalidEvent)
		}
		return nil
	default:
		return fmt.Errorf("%w: Type: %q is not %q or %q",
			ErrInvalidEvent, e.Type, ProductionCompleted, ProductionFailed)
	}
}

func validateProductionID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: ProductionID: empty", ErrInvalidEvent)
	}
	if len(id) > MaxProductionIDLen {
		return fmt.Errorf("%w: ProductionID: %d bytes, longer than %d",
			ErrInvalidEvent, len(id), MaxProductionIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: ProductionID: byte %#02x at offset %d is not "+
				"printable ASCII (the ID is sent in a header)", ErrInvalidEvent, c, i)
		}
	}
	return nil
}

func validateOutputURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("%w: OutputURL: empty for a completed production", ErrInvalidEvent)
	}
	if len(raw) > MaxOutputURLLen {
		return fmt.Errorf("%w: OutputURL: %d bytes, longer than %d",
			ErrInvalidEvent, len(raw), MaxOutputURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		// The URL is presigned: never echo it, its query holds credentials.
		return fmt.Errorf("%w: OutputURL: not an absolute URL with a host", ErrInvalidEvent)
	}
	return nil
}

// repairText makes s valid UTF-8 and at most MaxErrorTextLen bytes long.
func repairText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxErrorTextLen {
		return s
	}
	const ellipsis = "…"
	cut := MaxErrorTextLen - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// payload is the wire shape. Field order is the key order on the wire.
type payload struct {
	Event     EventType   `json:"event"`
	Timestamp string      `json:"timestamp"`
	Data      payloadData `json:"data"`
}

type payloadData struct {
	ProductionID string  `json:"production_id"`
	Status       string  `json:"status"`
	OutputURL    *string `json:"output_url"`
	Error        *string `json:"error"`
}

// Payload returns the exact request body for the event: the keys event,
// timestamp and data (production_id, status, output_url, error) in that
// order, null where a field has no value, '&', '<' and '>' written as
// themselves, and no trailing newline. A zero Timestamp is written as now
// on the real clock; the Dispatcher fills it from its own clock first.
func (e Event) Payload() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	ts := e.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	p := payload{
		Event:     e.Type,
		Timestamp: ts.UTC().Truncate(time.Second).Format(time.RFC3339),
		Data:      payloadData{ProductionID: e.ProductionID},
	}
	switch e.Type {
	case ProductionCompleted:
		p.Data.Status = "completed"
		p.Data.OutputURL = &e.OutputURL
	case ProductionFailed:
		p.Data.Status = "failed"
		text := repairText(e.Error)
		p.Data.Error = &text
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("webhook: encode payload: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
