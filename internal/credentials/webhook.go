package credentials

import (
	"encoding/base64"
	"strings"
)

// ReasonWebhookSecretInvalid means a webhook signing secret is not whsec_ followed by the
// base64 of at least MinWebhookKeyBytes bytes.
const ReasonWebhookSecretInvalid = "WebhookSecretInvalid"

// Bounds of a Standard Webhooks signing secret.
const (
	// WebhookSecretPrefix starts a Standard Webhooks secret; the rest is its key in base64.
	WebhookSecretPrefix = "whsec_"
	// MinWebhookKeyBytes is the shortest key accepted: the convention asks for 24 to 64
	// random bytes; 16 is the floor of a useful HMAC key.
	MinWebhookKeyBytes = 16
	// MaxWebhookSecretBytes bounds the text parsed, so a parse has a bounded cost.
	MaxWebhookSecretBytes = 1024
)

// ParseWebhookSecret decodes a Standard Webhooks signing secret, whsec_<base64> (the
// prefix is optional; surrounding white space, as in a Secret made from a file, is
// ignored). The operator checks a gateway's secret with it and the runner signs with what
// it returns, so what one accepts the other can use. Errors never quote the secret.
func ParseWebhookSecret(s string) ([]byte, error) {
	if len(s) > MaxWebhookSecretBytes {
		return nil, fail(ReasonWebhookSecretInvalid, "the signing secret is %d bytes: at most %d", len(s), MaxWebhookSecretBytes)
	}
	s = strings.TrimPrefix(strings.TrimSpace(s), WebhookSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fail(ReasonWebhookSecretInvalid, "the signing secret is not whsec_ followed by base64")
	}
	if len(key) < MinWebhookKeyBytes {
		return nil, fail(ReasonWebhookSecretInvalid, "the signing secret is %d bytes: it needs at least %d", len(key), MinWebhookKeyBytes)
	}
	return key, nil
}
