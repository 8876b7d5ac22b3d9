package webhook

// Dispatcher sends webhooks; see doc.go.
type Dispatcher struct {
	cfg Config
}
