package oauth

// Paths of the authorization server's endpoints, under the issuer.
const (
	AuthorizePath = "/oauth/authorize"
	TokenPath     = "/oauth/token"
	RegisterPath  = "/oauth/register"
	// MetadataPath is RFC 8414's well-known path; clients that take the
	// MCP URL for the issuer insert it before the path
	// (/.well-known/oauth-authorization-server/mcp), which is served too.
	MetadataPath = "/.well-known/oauth-authorization-server"
)

// Metadata is the RFC 8414 authorization server metadata document.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// CodeChallengeMethodsSupported must be present: MCP clients refuse
	// an authorization server without it (MCP 2025-11-25).
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	// RFC 9207: the authorization response carries iss.
	AuthorizationResponseISSParameterSupported bool   `json:"authorization_response_iss_parameter_supported"`
	ServiceDocumentation                       string `json:"service_documentation,omitempty"`
}

// NewMetadata is the document for issuer (the server's public origin, no
// trailing slash).
func NewMetadata(issuer string) Metadata {
	scopes := make([]string, len(Scopes))
	for i, p := range Scopes {
		scopes[i] = string(p)
	}
	return Metadata{
		Issuer:                                     issuer,
		AuthorizationEndpoint:                      issuer + AuthorizePath,
		TokenEndpoint:                              issuer + TokenPath,
		RegistrationEndpoint:                       issuer + RegisterPath,
		ScopesSupported:                            scopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{GrantAuthorizationCode, GrantRefreshToken},
		TokenEndpointAuthMethodsSupported:          []string{"none"},
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseISSParameterSupported: true,
	}
}
