// Package webhook delivers a runner's chat events to the bot's webhook
// (spec.runner.webhook), signed per the Standard Webhooks convention, in order per chat and
// at least once. Delivery reads the engine's event logs by position, off the engine's
// path: a receiver that is slow or down costs no memory per waiting event and never slows
// polling or the escalation API.
package webhook

import (
	api "github.com/gatewayops/genesys-gateway-operator/api/escalation"

	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/gatewayops/genesys-gateway-operator/internal/credentials"
)

// Headers of a delivery, per the Standard Webhooks convention: the contract's.
const (
	HeaderID        = api.WebhookIDHeader
	HeaderTimestamp = api.WebhookTimestampHeader
	HeaderSignature = api.WebhookSignatureHeader
)

// ParseSecret decodes a Standard Webhooks secret, whsec_<base64>: the contract layer's
// parser, the one the operator checks a gateway's secret with.
func ParseSecret(s string) ([]byte, error) { return credentials.ParseWebhookSecret(s) }

// Sign returns the webhook-signature header of a delivery: v1,<base64 HMAC-SHA256 of
// id.timestamp.body> for each key, space-separated (two during a rotation).
func Sign(keys [][]byte, id string, timestamp int64, body []byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
