package engram

// Audit actions of the OAuth authorization server MCP hosts sign in
// through (docs/IDENTITY.md, "OAuth for MCP hosts"). Entries name the
// client by id and the account by pseudonym; never a code or token.
const (
	// AuditOAuthRegister: a host registered itself (RFC 7591). Nobody is
	// signed in, so it goes to the system chain.
	AuditOAuthRegister AuditAction = "oauth.client_register"
	// AuditOAuthAuthorize: a member signed in and consented; a code was
	// issued to the client.
	AuditOAuthAuthorize AuditAction = "oauth.authorize"
	// AuditOAuthToken: a code was exchanged for tokens (refreshes are
	// auth.refresh), or a reused code revoked what it had issued.
	AuditOAuthToken AuditAction = "oauth.token"
)

// TargetOAuthClient is an OAuth client (an MCP host), recorded by id.
const TargetOAuthClient = "oauth_client"
