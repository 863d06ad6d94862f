package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// Deletion with a grace period (docs/LIFECYCLE.md, "Deletion").

type userDeletionInput struct {
	UserID string `path:"user_id" maxLength:"256" doc:"The end user."`
}

type deletionBody struct{ Body *engram.Deletion }

// forgetOutput is DELETE /v1/users/{user_id}'s answer: the erasure
// receipt (200, *engram.Erasure) when it erased at once, the scheduled
// deletion (202, *engram.Deletion) when a grace was given. Both are
// declared in the document by forgetResponses.
type forgetOutput struct {
	Status int
	Body   any
}

// forgetResponses declares the two answers of forgetUser with their own
// schemas.
func forgetResponses(api huma.API, o *huma.Operation) {
	reg := api.OpenAPI().Components.Schemas
	o.Responses = map[string]*huma.Response{
		"200": {Description: "Erased now: the receipt.", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeOf(engram.Erasure{}), true, "Erasure")}}},
		"202": {Description: "Scheduled (with grace): the pending deletion.", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeOf(engram.Deletion{}), true, "Deletion")}}},
	}
}

type forgetInput struct {
	UserID string `path:"user_id" maxLength:"256" doc:"The end user to forget."`
	Grace  string `query:"grace" maxLength:"32" doc:"Schedule the erasure after this grace period (a duration from 1m to 8760h, e.g. 168h) instead of erasing now: answers 202 with the scheduled deletion. Writes for the user are refused with 409 deletion_pending until then; reads and the user's export still work."`
}

func forgetUser(privacy engram.PrivacyService, del engram.DeletionService) func(context.Context, *forgetInput) (*forgetOutput, error) {
	return func(ctx context.Context, in *forgetInput) (*forgetOutput, error) {
		if in.Grace == "" {
			r, err := privacy.ForgetUser(ctx, in.UserID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &forgetOutput{Status: http.StatusOK, Body: r}, nil
		}
		if del == nil {
			return nil, problemOf(ctx, engram.Errorf(engram.CodeNotImplemented, "scheduled deletion is not served here"))
		}
		grace, err := time.ParseDuration(in.Grace)
		if err != nil {
			return nil, problemOf(ctx, engram.Errorf(engram.CodeInvalid, "grace must be a duration such as 168h"))
		}
		d, err := del.ScheduleUserDeletion(ctx, in.UserID, grace)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &forgetOutput{Status: http.StatusAccepted, Body: d}, nil
	}
}

func registerDeletion(api huma.API, svc engram.DeletionService) {
	if svc == nil {
		return
	}
	o := withConflict(op("deleteMe", http.MethodDelete, "/v1/me", "Schedule the deletion of your account", http.StatusAccepted, "members"))
	o.Description = "Needs a person signed in. The account becomes read-only for the server's grace period (default 168h): every write answers 409 deletion_pending, reads and GET /v1/me/export still work, and POST /v1/me/deletion/cancel restores it. Then the account, its keys, sessions, membership and the memories it authored are erased (its key destroyed); a pseudonymised record remains in the audit trail. An organisation's only owner is refused with 409 sole_owner; a legal hold with 409 legal_hold."
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*deletionBody, error) {
		d, err := svc.DeleteMe(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &deletionBody{Body: d}, nil
	})

	huma.Register(api, op("cancelMyDeletion", http.MethodPost, "/v1/me/deletion/cancel", "Cancel your account's pending deletion", http.StatusNoContent, "members"),
		func(ctx context.Context, _ *struct{}) (*struct{}, error) {
			if err := svc.CancelMyDeletion(ctx); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, op("cancelUserDeletion", http.MethodPost, "/v1/users/{user_id}/deletion/cancel", "Cancel an end user's pending deletion", http.StatusNoContent, "privacy"),
		func(ctx context.Context, in *userDeletionInput) (*struct{}, error) {
			if err := svc.CancelUserDeletion(ctx, in.UserID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	o = op("listDeletions", http.MethodGet, "/v1/deletions", "List the pending deletions of accounts and end users, soonest first", http.StatusOK, "privacy")
	o.Description = "Needs the users:forget scope (owners, admins)."
	huma.Register(api, o, func(ctx context.Context, _ *struct{}) (*resultsBody[engram.Deletion], error) {
		ds, err := svc.ListDeletions(ctx)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		out := &resultsBody[engram.Deletion]{}
		out.Body.Results = ds
		return out, nil
	})
}
