package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type userInput struct {
	UserID string `path:"user_id" maxLength:"256" doc:"The end user to forget."`
}

func registerPrivacy(api huma.API, svc engram.PrivacyService) {
	o := op("forgetUser", http.MethodDelete, "/v1/users/{user_id}",
		"Forget an end user: destroy their key and delete their memories, history and index entries", http.StatusOK, "privacy")
	o.Description = "Crypto-shredding erasure (GDPR Art. 17). Needs the users:forget scope. Returns a receipt with counts; nothing of the user remains readable, in the database or in its backups once they expire. A legal hold on the tenant or on this user refuses it with 409 legal_hold."
	o.Errors = append(o.Errors, http.StatusConflict)
	huma.Register(api, o, func(ctx context.Context, in *userInput) (*struct{ Body *engram.Erasure }, error) {
		r, err := svc.ForgetUser(ctx, in.UserID)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.Erasure }{Body: r}, nil
	})

	o = op("rotateKeys", http.MethodPost, "/v1/encryption-keys/rotate",
		"Rotate the tenant's encryption keys (owners)", http.StatusOK, "privacy")
	o.Description = "Adds a tenant key version, rewraps every data key under it and destroys the old one; new writes use fresh data keys and a background job re-encrypts older records (records_pending)."
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*struct{ Body *engram.KeyRotation }, error) {
		r, err := svc.RotateKeys(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.KeyRotation }{Body: r}, nil
	})
}
