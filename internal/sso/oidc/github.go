package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/engram-memory/engram/internal/sso"
)

// GitHubIssuer is the Issuer of identities GitHub asserts.
const GitHubIssuer = "https://github.com"

// Why GitHub is handled here and how. GitHub is an OAuth 2.0 authorization
// server but not an OpenID provider: no discovery, no ID token, no nonce, no
// JWKS. We keep everything of the flow that still applies — state bound to the
// session, PKCE S256 (GitHub accepts it), the code exchanged over TLS with the
// client secret — and take the identity from GitHub's REST API with the fresh
// access token: the user's numeric id is the Subject (logins can be renamed
// and reused; ids cannot), the primary *verified* address from /user/emails is
// the Email, and with the read:org scope the user's organisation logins are the
// Groups. The token is used for these calls only and then dropped.

func (c Config) githubEndpoint() oauth2.Endpoint {
	auth, token := c.AuthURL, c.TokenURL
	if auth == "" {
		auth = "https://github.com/login/oauth/authorize"
	}
	if token == "" {
		token = "https://github.com/login/oauth/access_token"
	}
	return oauth2.Endpoint{AuthURL: auth, TokenURL: token, AuthStyle: oauth2.AuthStyleInParams}
}

func (c Config) githubAPI() string {
	if c.APIURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimRight(c.APIURL, "/")
}

func (p *Provider) githubIdentity(ctx context.Context, tok *oauth2.Token) (sso.Identity, error) {
	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Name  string `json:"name"`
	}
	if err := p.githubGet(ctx, tok, "/user", &user); err != nil {
		return sso.Identity{}, err
	}
	if user.ID <= 0 {
		return sso.Identity{}, sso.ErrNoSubject
	}
	id := sso.Identity{Subject: strconv.FormatInt(user.ID, 10), Issuer: GitHubIssuer, Name: user.Name}
	if id.Name == "" {
		id.Name = user.Login
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := p.githubGet(ctx, tok, "/user/emails", &emails); err != nil {
		return sso.Identity{}, err
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			id.Email, id.EmailVerified = strings.ToLower(e.Email), true
		}
	}
	if slices.Contains(p.cfg.scopes(), "read:org") {
		var orgs []struct {
			Login string `json:"login"`
		}
		if err := p.githubGet(ctx, tok, "/user/orgs", &orgs); err != nil {
			return sso.Identity{}, err
		}
		id.Groups = []string{}
		for _, o := range orgs {
			id.Groups = append(id.Groups, o.Login)
		}
	}
	if err := p.checkDomain(id); err != nil {
		return sso.Identity{}, err
	}
	return id, nil
}

// githubGet decodes one API answer, at most 1 MiB, into v.
func (p *Provider) githubGet(ctx context.Context, tok *oauth2.Token, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.githubAPI()+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrProvider, path, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s unreachable", ErrProvider, path)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d", ErrProvider, path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s: malformed answer", ErrProvider, path)
	}
	return nil
}
