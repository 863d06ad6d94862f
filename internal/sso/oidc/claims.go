package oidc

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/engram-memory/engram/internal/sso"
)

// oidcIdentity verifies the ID token of a code exchange and builds the
// Identity from its claims, completed from the UserInfo endpoint when the
// provider keeps email or profile claims out of the ID token.
func (p *Provider) oidcIdentity(ctx context.Context, tok *oauth2.Token, nonce string) (sso.Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return sso.Identity{}, fmt.Errorf("%w: token response has no id_token", ErrIDToken)
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		// go-oidc's messages name the claim that failed, never the token.
		return sso.Identity{}, fmt.Errorf("%w: %w", ErrIDToken, err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return sso.Identity{}, ErrNonce
	}
	// OIDC Core 3.1.3.7: with several audiences, azp must be us.
	var extra struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&extra); err != nil {
		return sso.Identity{}, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	if (len(idt.Audience) > 1 || extra.AZP != "") && extra.AZP != p.cfg.ClientID {
		return sso.Identity{}, fmt.Errorf("%w: authorized party is another client", ErrIDToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return sso.Identity{}, fmt.Errorf("%w: at_hash does not match the access token", ErrIDToken)
		}
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return sso.Identity{}, fmt.Errorf("%w: claims: %w", ErrIDToken, err)
	}
	id := p.fromClaims(all)
	// The verifier checked iss against cfg.Issuer (allowing only Google's
	// scheme-less variant); recording cfg.Issuer keeps (Issuer, Subject) —
	// the account link — stable whichever form the token used.
	id.Subject, id.Issuer = idt.Subject, p.cfg.Issuer
	if id.Subject == "" {
		return sso.Identity{}, sso.ErrNoSubject
	}
	if (id.Email == "" || id.Name == "" || id.Groups == nil) && p.rp.UserInfoEndpoint() != "" && tok.AccessToken != "" {
		if err := p.completeFromUserInfo(ctx, tok, &id); err != nil {
			return sso.Identity{}, err
		}
	}
	if err := p.checkDomain(id); err != nil {
		return sso.Identity{}, err
	}
	if c := p.cfg.HostedDomainClaim; c != "" && len(p.cfg.AllowedEmailDomains) > 0 {
		hd, _ := all[c].(string)
		if hd == "" || !sso.DomainAllowed("x@"+hd, p.cfg.AllowedEmailDomains) {
			return sso.Identity{}, sso.ErrEmailDomain
		}
	}
	return id, nil
}

// completeFromUserInfo fills what the ID token lacked. The UserInfo "sub"
// must equal the ID token's (OIDC Core 5.3.2), or the response is refused.
func (p *Provider) completeFromUserInfo(ctx context.Context, tok *oauth2.Token, id *sso.Identity) error {
	ui, err := p.rp.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo request failed", ErrProvider)
	}
	if ui.Subject != id.Subject {
		return fmt.Errorf("%w: userinfo is about another subject", ErrProvider)
	}
	var all map[string]any
	if err := ui.Claims(&all); err != nil {
		return fmt.Errorf("%w: userinfo claims: %w", ErrProvider, err)
	}
	more := p.fromClaims(all)
	if id.Email == "" {
		id.Email, id.EmailVerified = more.Email, more.EmailVerified
	}
	if id.Name == "" {
		id.Name = more.Name
	}
	if id.Groups == nil {
		id.Groups = more.Groups
	}
	return nil
}

// fromClaims reads the standard claims and the configured groups claim.
// email_verified is accepted as a boolean or as the string "true" (some IdPs,
// including older Google tokens, send a string).
func (p *Provider) fromClaims(c map[string]any) sso.Identity {
	var id sso.Identity
	if s, ok := c["email"].(string); ok {
		id.Email = strings.ToLower(strings.TrimSpace(s))
	}
	switch v := c["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string:
		id.EmailVerified = v == "true"
	}
	if s, ok := c["name"].(string); ok {
		id.Name = s
	} else {
		g, _ := c["given_name"].(string)
		f, _ := c["family_name"].(string)
		id.Name = strings.TrimSpace(g + " " + f)
	}
	id.Groups = groupsFrom(c[p.cfg.groupsClaim()])
	return id
}

// groupsFrom accepts a JSON array of strings, a single string, or a JSON
// string holding an array (some IdPs serialise it so); other shapes give nil.
func groupsFrom(v any) []string {
	switch g := v.(type) {
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case string:
		var arr []string
		if strings.HasPrefix(g, "[") && json.Unmarshal([]byte(g), &arr) == nil {
			return slices.DeleteFunc(arr, func(s string) bool { return s == "" })
		}
		if g != "" {
			return []string{g}
		}
	}
	return nil
}

// checkDomain applies AllowedEmailDomains: only an address the IdP verified
// can prove membership of a domain.
func (p *Provider) checkDomain(id sso.Identity) error {
	if len(p.cfg.AllowedEmailDomains) == 0 {
		return nil
	}
	if !id.EmailVerified {
		return sso.ErrEmailNotVerified
	}
	if !sso.DomainAllowed(id.Email, p.cfg.AllowedEmailDomains) {
		return sso.ErrEmailDomain
	}
	return nil
}
