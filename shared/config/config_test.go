package config_test

import (
	"testing"

	"github.com/chatsend/chatsend/shared/config"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := config.FromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Stage != "local" || c.Port != 8080 || c.SecureCookies || c.WhatsAppBackend != "whatsmeow" || c.Resources.Main.Name != "chatsend-local-main" {
		t.Fatalf("defaults: %+v", c)
	}
	if q, ok := c.Resources.QueueByID("send"); !ok || q.Name != "chatsend-local-send.fifo" {
		t.Fatalf("send queue: %+v", q)
	}
}

func TestProductionAndOverrides(t *testing.T) {
	c, err := config.FromLookup(lookup(map[string]string{"CHATSEND_STAGE": "prod", "CHATSEND_BUCKET_EXPORTS": "exports-123", "PORT": "9000"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SecureCookies || c.Resources.Buckets[0].Name != "exports-123" || c.Port != 9000 || c.Resources.Main.Name != "chatsend-prod-main" {
		t.Fatalf("prod: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"bad stage":              {"CHATSEND_STAGE": "Prod!"},
		"bad port":               {"PORT": "eighty"},
		"insecure cookies prod":  {"CHATSEND_STAGE": "prod", "CHATSEND_SECURE_COOKIES": "false"},
		"unknown backend":        {"CHATSEND_WHATSAPP_BACKEND": "baileys"},
		"bad log level":          {"CHATSEND_LOG_LEVEL": "loud"},
		"not a bool for cookies": {"CHATSEND_SECURE_COOKIES": "maybe"},
		"loopback webhooks prod": {"CHATSEND_STAGE": "prod", "CHATSEND_WEBHOOKS_ALLOW_LOOPBACK": "true"},
		"short secrets key":      {"CHATSEND_SECRETS_KEY": "c2hvcnQ="},
	} {
		if _, err := config.FromLookup(lookup(env)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWebhookSettings(t *testing.T) {
	c, err := config.FromLookup(lookup(map[string]string{"CHATSEND_WEBHOOKS_ALLOW_LOOPBACK": "true"}))
	if err != nil || !c.WebhooksAllowLoopback || len(c.SecretsKey) != 32 {
		t.Fatalf("local: %v %+v", err, c.WebhooksAllowLoopback)
	}
	p, err := config.FromLookup(lookup(map[string]string{"CHATSEND_STAGE": "prod"}))
	if err != nil || p.SecretsKey != nil || p.WebhooksAllowLoopback {
		t.Fatalf("prod must not fall back to the dev key: %v", err)
	}
	k, err := config.FromLookup(lookup(map[string]string{"CHATSEND_STAGE": "prod", "CHATSEND_SECRETS_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}))
	if err != nil || len(k.SecretsKey) != 32 {
		t.Fatalf("prod key: %v", err)
	}
}
