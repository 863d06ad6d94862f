package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type createKeyInput struct {
	Body struct {
		Name      string              `json:"name" minLength:"1" maxLength:"128"`
		Scopes    []engram.Permission `json:"scopes,omitempty" maxItems:"16" doc:"Defaults to the calling key's scopes; a key never gets a scope its creator lacks." enum:"memories:read,memories:write,keys:admin,audit:read,audit:hold,users:forget,members:read,members:admin,tenant:admin,sso:admin"`
		ExpiresAt *time.Time          `json:"expires_at,omitempty" doc:"RFC 3339 time after which the key fails with 401."`
	}
}

type keyIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func registerKeys(api huma.API, svc engram.KeyService) {
	huma.Register(api, op("createKey", http.MethodPost, "/v1/keys", "Create an API key (the secret is returned only here)", http.StatusCreated, "keys"),
		func(ctx context.Context, in *createKeyInput) (*struct{ Body *engram.NewAPIKey }, error) {
			k, err := svc.CreateKey(ctx, engram.CreateKeyRequest{Name: in.Body.Name, Scopes: in.Body.Scopes, ExpiresAt: in.Body.ExpiresAt})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &struct{ Body *engram.NewAPIKey }{Body: k}, nil
		})

	huma.Register(api, op("listKeys", http.MethodGet, "/v1/keys", "List the tenant's API keys", http.StatusOK, "keys"),
		func(ctx context.Context, _ *struct{}) (*resultsBody[engram.APIKey], error) {
			ks, err := svc.ListKeys(ctx)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.APIKey]{}
			out.Body.Results = ks
			return out, nil
		})

	huma.Register(api, withConflict(op("revokeKey", http.MethodDelete, "/v1/keys/{id}", "Revoke an API key", http.StatusNoContent, "keys")),
		func(ctx context.Context, in *keyIDInput) (*struct{}, error) {
			if err := svc.RevokeKey(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})
}
