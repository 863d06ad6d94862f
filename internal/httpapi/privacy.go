package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

func registerPrivacy(api huma.API, svc engram.PrivacyService, del engram.DeletionService) {
	o := op("forgetUser", http.MethodDelete, "/v1/users/{user_id}",
		"Forget an end user: destroy their key and delete their memories, history and index entries", http.StatusOK, "privacy")
	o.Description = "Crypto-shredding erasure (GDPR Art. 17). Needs the users:forget scope. Returns a receipt with counts; nothing of the user remains readable, in the database or in its backups once they expire. A legal hold on the tenant or on this user refuses it with 409 legal_hold. With ?grace= the erasure is scheduled instead (202, the scheduled deletion): see GET /v1/deletions and POST /v1/users/{user_id}/deletion/cancel."
	o.Errors = append(o.Errors, http.StatusConflict)
	forgetResponses(api, &o)
	huma.Register(api, o, forgetUser(svc, del))

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
