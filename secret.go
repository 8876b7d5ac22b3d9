package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// Signing secrets, in the form the Standard Webhooks specification gives
// them: "whsec_" and the base64 (standard alphabet, padded) of the key.
const (
	// SecretPrefix starts every signing secret.
	SecretPrefix = "whsec_"
	// MinSecretBytes and MaxSecretBytes bound a secret's key length.
	MinSecretBytes = 24
	MaxSecretBytes = 64
	// newSecretBytes is the key length NewSecret draws.
	newSecretBytes = 32
)

// NewSecret returns a new signing secret: SecretPrefix and the base64 of 32
// random bytes from crypto/rand. Hand it to the customer once, over a safe
// channel, and keep it as you would a password.
func NewSecret() (string, error) {
	var key [newSecretBytes]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("webhook: make secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key[:]), nil
}

// ValidateSecret reports whether s is a well-formed signing secret:
// SecretPrefix and the padded standard base64 of MinSecretBytes to
// MaxSecretBytes bytes. The error says what is wrong without quoting s.
func ValidateSecret(s string) error {
	_, err := parseSecret(s)
	if err != nil {
		return fmt.Errorf("webhook: signing secret: %w", err)
	}
	return nil
}

// parseSecret returns the HMAC key of a signing secret. Its errors never
// hold the secret or a part of it.
func parseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	switch {
	case s == "":
		return nil, fmt.Errorf("empty")
	case !ok:
		return nil, fmt.Errorf("does not start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("after %q, not padded standard base64 (%d characters)",
			SecretPrefix, len(enc))
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("key is %d bytes, want %d to %d",
			len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// parseSecrets parses a list of secrets, naming a bad one by where it is:
// the where func gives, say, "Config.SigningSecrets[2]".
func parseSecrets(secrets []string, where func(i int) string) ([][]byte, error) {
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		key, err := parseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where(i), err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}
