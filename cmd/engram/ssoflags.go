package main

import (
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/engine"
)

// ssoFlags: which networks an organisation's OIDC provider may be on. An
// owner sets the issuer URL, so by default the server fetches only from
// public addresses (no loopback, private or link-local: no SSRF into the
// operator's network or a cloud metadata endpoint).
type ssoFlags struct {
	SSOAllowPrivate  bool `name:"sso-allow-private" env:"ENGRAM_SSO_ALLOW_PRIVATE" help:"Let OIDC providers be on private networks (RFC 1918, ULA): an on-premises IdP."`
	SSOAllowLoopback bool `name:"sso-allow-loopback" env:"ENGRAM_SSO_ALLOW_LOOPBACK" help:"Let OIDC providers be on this host (development only)."`
}

func (f ssoFlags) option() engine.Option {
	return engine.WithSSONetwork(safedial.Policy{AllowPrivate: f.SSOAllowPrivate, AllowLoopback: f.SSOAllowLoopback})
}
