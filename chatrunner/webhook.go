package chatrunner

import (
	"fmt"
	"time"

	"github.com/gatewayops/genesys-gateway-operator/chatrunner/live"
	"github.com/gatewayops/genesys-gateway-operator/chatrunner/webhook"
	"github.com/gatewayops/genesys-gateway-operator/internal/gateway"
)

// webhookConfig reads spec.runner.webhook and its signing secrets from the current
// snapshot: every delivery attempt calls it, so a changed URL, timeout, list of events or
// rotated secret applies to the next attempt. webhook.ErrDisabled while the gateway names
// none: events pass undelivered.
func webhookConfig(current func() *live.Snapshot) func() (webhook.Config, error) {
	return func() (webhook.Config, error) {
		snap := current()
		if snap == nil || snap.Gateway == nil || snap.Gateway.Spec.Runner.Webhook == nil {
			return webhook.Config{}, webhook.ErrDisabled
		}
		w := snap.Gateway.Spec.Runner.Webhook
		if w.URL == "" {
			return webhook.Config{}, webhook.ErrDisabled
		}
		name := string(w.SigningSecretRef.Name)
		raw, err := snap.SecretKey(name, gateway.KeyWebhookSecret)
		if err != nil {
			return webhook.Config{}, fmt.Errorf("webhook signing secret: %w", err)
		}
		key, err := webhook.ParseSecret(string(raw))
		if err != nil {
			return webhook.Config{}, fmt.Errorf("webhook signing secret %q: %w", name, err)
		}
		keys := [][]byte{key}
		if prev, err := snap.SecretKey(name, gateway.KeyPreviousWebhookSecret); err == nil {
			if k, err := webhook.ParseSecret(string(prev)); err == nil {
				keys = append(keys, k)
			}
		}
		cfg := webhook.Config{URL: w.URL, Keys: keys, Timeout: time.Duration(w.TimeoutSeconds) * time.Second}
		if b := w.CABundle; b != nil {
			kind, key := b.Kind, b.Key
			if key == "" {
				key = gateway.KeyCABundle
			}
			var pem []byte
			if kind == string(gateway.KindSecret) {
				pem, err = snap.SecretKey(string(b.Name), key)
			} else {
				var s string
				s, err = snap.ConfigMapKey(string(b.Name), key)
				pem = []byte(s)
			}
			if err != nil {
				return webhook.Config{}, fmt.Errorf("webhook CA bundle: %w", err)
			}
			cfg.CABundle = pem
		}
		for _, k := range w.Events {
			cfg.Kinds = append(cfg.Kinds, string(k))
		}
		return cfg, nil
	}
}
