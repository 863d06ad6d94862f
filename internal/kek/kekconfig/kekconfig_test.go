package kekconfig_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/kekconfig"
	"github.com/engram-memory/engram/internal/kek/kektest"
	"github.com/engram-memory/engram/internal/kek/vault/vaulttest"
)

// TestVaultConfig opens a stored Vault configuration the way a tenant's
// own KEK is reopened, and runs the conformance suite on it.
func TestVaultConfig(t *testing.T) {
	kektest.Run(t, func(t *testing.T) kek.KEK {
		srv := vaulttest.Start(t)
		if err := srv.CreateKey("transit", "acme"); err != nil {
			t.Fatal(err)
		}
		cfg, _ := json.Marshal(kekconfig.VaultConfig{Address: srv.URL, Token: srv.Token(), Key: "acme", TimeoutSeconds: 5})
		k, err := kekconfig.Open(context.Background(), kekconfig.Vault, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}

func TestBadConfigs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ provider, cfg string }{
		{"vault", `{"address": "http://127.0.0.1:1", "token": "s.secret-token-value", "key": "k", "extra": 1}`},
		{"vault", `not json s.secret-token-value`},
		{"awskms", `{"key_id": "", "region": ""}`},
		{"gcpkms", `{}`},
	} {
		_, err := kekconfig.Open(ctx, tc.provider, []byte(tc.cfg))
		if err == nil {
			t.Errorf("%s %s: accepted", tc.provider, tc.cfg)
			continue
		}
		if strings.Contains(err.Error(), "secret-token-value") {
			t.Errorf("error echoes the configuration: %v", err)
		}
	}
}
