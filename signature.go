package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// This file signs each attempt as the Standard Webhooks specification
// says: webhook-signature carries "v1," and the base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>", once per active secret.
// Secrets are in secret.go; receivers verify with package verify.

// SecretSource looks up signing secrets by key. The Dispatcher calls it at
// every attempt of a delivery sent with [WithSecretKey], so that a secret
// is never stored with a delivery and a rotation reaches pending retries.
//
// It must be safe for concurrent use. Its errors are logged and kept in the
// attempt log: they must not contain a secret.
type SecretSource interface {
	// SigningSecrets returns the active secrets for key, each in the form
	// NewSecret makes. During a rotation it returns the new and the old
	// secret: each attempt then carries both signatures, and a receiver
	// holding either one accepts it. An error, or no secret, fails the
	// attempt, which is retried on the schedule.
	SigningSecrets(ctx context.Context, key string) ([]string, error)
}

// parseSigningSecrets parses Config.SigningSecrets, once, in New. The error
// wraps ErrInvalidConfig and names the entry without quoting it.
func parseSigningSecrets(c Config) ([][]byte, error) {
	keys, err := parseSecrets(c.SigningSecrets, func(i int) string {
		return fmt.Sprintf("SigningSecrets[%d]", i)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return keys, nil
}

// signatureFor returns the webhook-signature value of an attempt of del
// made at the given time: one "v1,<base64>" per active secret, separated
// by spaces, or "" when no secret applies. A delivery sent with a secret
// key is signed with the secrets SecretSource returns for it now; any
// other with Config.SigningSecrets.
func (d *Dispatcher) signatureFor(ctx context.Context, del *Delivery, at time.Time) (string,
	error) {
	keys := d.signingKeys
	if del.SecretKey != "" {
		var err error
		keys, err = d.lookupKeys(ctx, del.SecretKey)
		if err != nil {
			return "", err
		}
	}
	return sign(keys, del.ID, at.Unix(), del.Body), nil
}

// lookupKeys asks Config.SecretSource for the secrets of key and parses
// them.
func (d *Dispatcher) lookupKeys(ctx context.Context, key string) ([][]byte, error) {
	if d.cfg.SecretSource == nil {
		return nil, errors.New("webhook: delivery has a secret key but Config.SecretSource is nil")
	}
	secrets, err := d.cfg.SecretSource.SigningSecrets(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("webhook: look up signing secrets of key %q: %w", key, err)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("webhook: no signing secret for key %q", key)
	}
	return parseSecrets(secrets, func(i int) string {
		return fmt.Sprintf("webhook: signing secret %d of key %q", i, key)
	})
}

// sign returns the webhook-signature value for the message id, sent at
// Unix time ts with body, under each key; "" without keys.
func sign(keys [][]byte, id string, ts int64, body []byte) string {
	if len(keys) == 0 {
		return ""
	}
	prefix := id + "." + strconv.FormatInt(ts, 10) + "."
	out := make([]byte, 0, len(keys)*48)
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(prefix))
		mac.Write(body)
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, "v1,"...)
		out = base64.StdEncoding.AppendEncode(out, mac.Sum(nil))
	}
	return string(out)
}
