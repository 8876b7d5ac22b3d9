package webhook

// SendOption changes how [Dispatcher.Send] stores one delivery.
type SendOption func(*sendOptions)

type sendOptions struct {
	idempotencyKey string
	secretKey      string
}

// WithIdempotencyKey makes Send idempotent: a second Send with the same key
// stores nothing and returns the first delivery's ID, for render jobs that
// retry. Keys are kept as long as their delivery is, until it is purged
// after Config.Retention.
func WithIdempotencyKey(key string) SendOption {
	return func(o *sendOptions) { o.idempotencyKey = key }
}

// WithSecretKey signs the delivery with the secrets that
// Config.SecretSource returns for key, looked up at each attempt, instead
// of Config.SigningSecrets. Only the key is stored with the delivery.
func WithSecretKey(key string) SendOption {
	return func(o *sendOptions) { o.secretKey = key }
}
