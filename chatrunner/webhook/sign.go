// Package webhook delivers a runner's chat events to the bot's webhook
// (spec.runner.webhook), signed per the Standard Webhooks convention, in order per chat and
// at least once. Delivery reads the engine's event logs by position, off the engine's
// path: a receiver that is slow or down costs no memory per waiting event and never slows
// polling or the escalation API.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// secretPrefix starts a Standard Webhooks secret; the rest is its key in base64.
const secretPrefix = "whsec_"

// Headers of a delivery, per the Standard Webhooks convention.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// ParseSecret decodes a Standard Webhooks secret, whsec_<base64> (the prefix is optional;
// surrounding white space, as in a Secret made from a file, is ignored).
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), secretPrefix)
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("the signing secret is not whsec_ followed by base64")
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("the signing secret is %d bytes: it needs at least 16", len(key))
	}
	return key, nil
}

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
