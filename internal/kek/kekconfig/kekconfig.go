// Package kekconfig builds a KEK provider from a provider name and a JSON
// configuration: how a tenant's own KEK (bring your own key) is stored and
// reopened. It is the one place that knows every provider.
package kekconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/awskms"
	"github.com/engram-memory/engram/internal/kek/vault"
)

// Provider names.
const (
	AWSKMS = "awskms"
	Vault  = "vault"
)

// VaultConfig is the stored configuration of a Vault Transit key.
type VaultConfig struct {
	Address        string `json:"address"`
	Token          string `json:"token"`
	Mount          string `json:"mount,omitempty"`
	Key            string `json:"key"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"`
}

// AWSKMSConfig is the stored configuration of an AWS KMS key.
type AWSKMSConfig struct {
	KeyID           string `json:"key_id"`
	Region          string `json:"region"`
	Endpoint        string `json:"endpoint,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	SessionToken    string `json:"session_token,omitempty"`
	TimeoutSeconds  int    `json:"timeout_seconds,omitempty"`
}

// Open builds the provider. It validates the configuration and does not
// call out.
func Open(ctx context.Context, provider string, config []byte) (kek.KEK, error) {
	switch provider {
	case AWSKMS:
		var c AWSKMSConfig
		if err := strictJSON(config, &c); err != nil {
			return nil, err
		}
		return awskms.New(ctx, awskms.Config{
			KeyID: c.KeyID, Region: c.Region, Endpoint: c.Endpoint,
			AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			Timeout: time.Duration(c.TimeoutSeconds) * time.Second,
		})
	case Vault:
		var c VaultConfig
		if err := strictJSON(config, &c); err != nil {
			return nil, err
		}
		return vault.New(vault.Config{Address: c.Address, Token: c.Token, Mount: c.Mount, Key: c.Key,
			Timeout: time.Duration(c.TimeoutSeconds) * time.Second})
	}
	return nil, fmt.Errorf("unknown KEK provider %q", provider)
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// The configuration holds credentials: never echo it.
		return fmt.Errorf("malformed KEK configuration")
	}
	return nil
}
