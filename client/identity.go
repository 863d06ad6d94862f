package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/engram-memory/engram"
)

var _ engram.IdentityService = (*Client)(nil)

// Login signs in with email and password. Use the pair's AccessToken as a
// new client's key (client.New(url, t.AccessToken)) and Refresh before it
// expires; a refresh token works once.
func (c *Client) Login(ctx context.Context, req engram.LoginRequest) (*engram.Tokens, error) {
	var t engram.Tokens
	return &t, c.call(ctx, http.MethodPost, "/v1/auth/login", nil, req, &t)
}

// Refresh spends a refresh token for a new pair.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*engram.Tokens, error) {
	var t engram.Tokens
	return &t, c.call(ctx, http.MethodPost, "/v1/auth/refresh", nil, map[string]string{"refresh_token": refreshToken}, &t)
}

// Logout ends the client's session, or refreshToken's when given.
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	var body any
	if refreshToken != "" {
		body = map[string]string{"refresh_token": refreshToken}
	}
	return c.call(ctx, http.MethodPost, "/v1/auth/logout", nil, body, nil)
}

// LogoutEverywhere ends every session of the caller's account.
func (c *Client) LogoutEverywhere(ctx context.Context) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	return out.Revoked, c.call(ctx, http.MethodPost, "/v1/auth/logout-everywhere", nil, nil, &out)
}

// Sessions lists the caller's sessions.
func (c *Client) Sessions(ctx context.Context) ([]engram.SessionInfo, error) {
	var out struct{ Results []engram.SessionInfo }
	return out.Results, c.call(ctx, http.MethodGet, "/v1/auth/sessions", nil, nil, &out)
}

// Invite invites someone by email with a role.
func (c *Client) Invite(ctx context.Context, req engram.InviteRequest) (*engram.Invitation, error) {
	var inv engram.Invitation
	return &inv, c.call(ctx, http.MethodPost, "/v1/invitations", nil, req, &inv)
}

// AcceptInvitation accepts an invitation (no key needed).
func (c *Client) AcceptInvitation(ctx context.Context, req engram.AcceptRequest) (*engram.Member, error) {
	var m engram.Member
	return &m, c.call(ctx, http.MethodPost, "/v1/invitations/accept", nil, req, &m)
}

// Members lists the organisation's members and pending invitations.
func (c *Client) Members(ctx context.Context) ([]engram.Member, error) {
	var out struct{ Results []engram.Member }
	return out.Results, c.call(ctx, http.MethodGet, "/v1/members", nil, nil, &out)
}

// ChangeRole changes a member's role.
func (c *Client) ChangeRole(ctx context.Context, accountID string, role engram.Role) (*engram.Member, error) {
	var m engram.Member
	return &m, c.call(ctx, http.MethodPatch, "/v1/members/"+url.PathEscape(accountID), nil, map[string]engram.Role{"role": role}, &m)
}

// RemoveMember removes a member (or leaves, with one's own id).
func (c *Client) RemoveMember(ctx context.Context, accountID string) error {
	return c.call(ctx, http.MethodDelete, "/v1/members/"+url.PathEscape(accountID), nil, nil, nil)
}

// TransferOwnership makes accountID the owner; the caller becomes admin.
func (c *Client) TransferOwnership(ctx context.Context, accountID string) error {
	return c.call(ctx, http.MethodPost, "/v1/members/"+url.PathEscape(accountID)+"/transfer-ownership", nil, nil, nil)
}

// Me describes the caller.
func (c *Client) Me(ctx context.Context) (*engram.Me, error) {
	var me engram.Me
	return &me, c.call(ctx, http.MethodGet, "/v1/me", nil, nil, &me)
}

// ChangePassword changes the caller's password (a session, not a key).
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.call(ctx, http.MethodPost, "/v1/auth/password", nil,
		map[string]string{"current_password": current, "new_password": next}, nil)
}

// RequestPasswordReset asks for a reset link by mail.
func (c *Client) RequestPasswordReset(ctx context.Context, email, tenant string) error {
	return c.call(ctx, http.MethodPost, "/v1/auth/password-reset", nil, map[string]string{"email": email, "tenant": tenant}, nil)
}

// ResetPassword sets a new password with a reset link's token.
func (c *Client) ResetPassword(ctx context.Context, token, password string) error {
	return c.call(ctx, http.MethodPost, "/v1/auth/password-reset/confirm", nil, map[string]string{"token": token, "password": password}, nil)
}

// UpdateProfile changes the caller's name.
func (c *Client) UpdateProfile(ctx context.Context, name string) (*engram.Me, error) {
	var me engram.Me
	return &me, c.call(ctx, http.MethodPatch, "/v1/me", nil, map[string]string{"name": name}, &me)
}

// RequestVerification asks for a link proving the caller's address.
func (c *Client) RequestVerification(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/me/verify-email", nil, nil, nil)
}

// VerifyEmail confirms the address with the link's token.
func (c *Client) VerifyEmail(ctx context.Context, token string) error {
	return c.call(ctx, http.MethodPost, "/v1/auth/verify-email", nil, map[string]string{"token": token}, nil)
}
