package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// SecretSource looks up signing secrets by key. The Dispatcher calls it at
// every attempt of a delivery sent with [WithSecretKey].
type SecretSource interface {
	// SigningSecrets returns the active secrets for key, newest first.
	SigningSecrets(ctx context.Context, key string) ([]string, error)
}

// signatureFor returns the webhook-signature value for one attempt of del
// at the given time, or "" when no secret applies.
func (d *Dispatcher) signatureFor(ctx context.Context, del *Delivery, at time.Time) (string, error) {
	secrets := d.cfg.SigningSecrets
	if del.SecretKey != "" && d.cfg.SecretSource != nil {
		var err error
		secrets, err = d.cfg.SecretSource.SigningSecrets(ctx, del.SecretKey)
		if err != nil {
			return "", err
		}
	}
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(del.ID + "." + strconv.FormatInt(at.Unix(), 10) + "."))
		mac.Write(del.Body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
