// Package oauth holds the rules of Engram's OAuth 2.1 authorization server,
// the one MCP hosts (Claude, Cursor, the MCP Inspector) sign in through to
// reach /mcp, as the MCP authorization specification (2025-06-18,
// 2025-11-25) asks: RFC 8414 metadata, the authorization code grant with
// PKCE S256 only, RFC 7591 dynamic registration of public clients, RFC 8707
// resource indicators binding every grant to the /mcp resource, and
// rotating refresh tokens (the session package's families).
//
// It is pure: it validates registrations, authorization and token
// requests, makes and checks authorization codes and renders the metadata
// and the RFC 6749 error bodies. The engine stores what it returns through
// Store, checks passwords, issues the tokens and audits; the HTTP layer
// only decodes and encodes.
package oauth
