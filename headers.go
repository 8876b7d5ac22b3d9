package webhook

import (
	"net/http"
	"strconv"
	"time"
)

// Header names, spelled on the wire exactly as given here. The X-StrataKit
// names follow the vendor's page; the webhook- names follow the Standard
// Webhooks specification. They are set on requests without
// canonicalization, which would rewrite "StrataKit" as "Stratakit".
const (
	HeaderContentType  = "Content-Type"
	HeaderUserAgent    = "User-Agent"
	HeaderProductionID = "X-StrataKit-Production-Id"
	HeaderDelivery     = "X-StrataKit-Delivery"
	HeaderWebhookID    = "webhook-id"
	HeaderTimestamp    = "webhook-timestamp"
	HeaderSignature    = "webhook-signature"
)

// Header values that never change.
const (
	ContentType = "application/json"
	UserAgent   = "StrataKit-Webhook/1.0"
)

// setHeaders writes the headers of one attempt into h, keeping the spelling
// of every name. signature is omitted when empty.
func setHeaders(h http.Header, d *Delivery, attempt int, at time.Time, signature string) {
	h[HeaderContentType] = []string{ContentType}
	h[HeaderUserAgent] = []string{UserAgent}
	h[HeaderProductionID] = []string{d.ProductionID}
	h[HeaderDelivery] = []string{strconv.Itoa(attempt)}
	h[HeaderWebhookID] = []string{d.ID}
	h[HeaderTimestamp] = []string{strconv.FormatInt(at.Unix(), 10)}
	if signature != "" {
		h[HeaderSignature] = []string{signature}
	}
}
