package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// The entity routes: people, organisations, places … that observed
// conversations mention, within the caller's tenant.

type entityListInput struct {
	UserID string `query:"user_id" maxLength:"256"`
	Type   string `query:"type" maxLength:"32" doc:"person, organisation, place, product, pet, event, other, or another lower-case word."`
	Query  string `query:"query" maxLength:"256" doc:"A name: exact or near matches, as entity resolution finds them."`
	Limit  int    `query:"limit" minimum:"1" maximum:"100" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"128" doc:"next_cursor of the previous page."`
}

type entityIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Entity id."`
}

type entityMergeInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The entity that stays."`
	Body struct {
		OtherID string `json:"other_id" minLength:"1" maxLength:"64" doc:"The entity merged into {id}: its name becomes an alias of {id}, its facts and mentions move to {id}, and it is gone."`
	}
}

type entityListOutput struct{ Body *engram.EntityList }

type entityOutput struct{ Body *engram.Entity }

func registerEntities(api huma.API, svc engram.ObserveService) {
	huma.Register(api, op("listEntities", http.MethodGet, "/v1/entities", "List entities", http.StatusOK, "entities"),
		func(ctx context.Context, in *entityListInput) (*entityListOutput, error) {
			l, err := svc.ListEntities(ctx, engram.EntityQuery{UserID: in.UserID, Type: in.Type, Query: in.Query, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			if l.Results == nil {
				l.Results = []engram.Entity{}
			}
			for i := range l.Results {
				entityBody(&l.Results[i])
			}
			return &entityListOutput{Body: l}, nil
		})

	o := op("getEntity", http.MethodGet, "/v1/entities/{id}", "Get an entity with its facts and observations", http.StatusOK, "entities")
	o.Description = "facts holds the entity's current facts, as subject or object."
	huma.Register(api, o, func(ctx context.Context, in *entityIDInput) (*entityOutput, error) {
		e, err := svc.GetEntity(ctx, in.ID)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &entityOutput{Body: entityBody(e)}, nil
	})

	// 409: the two entities belong to different users.
	o = withConflict(op("mergeEntities", http.MethodPost, "/v1/entities/{id}/merge", "Merge another entity into this one", http.StatusOK, "entities"))
	o.Description = "For the near matches entity resolution would not merge on its own. Returns the entity that stays."
	huma.Register(api, o, func(ctx context.Context, in *entityMergeInput) (*entityOutput, error) {
		e, err := svc.MergeEntities(ctx, in.ID, in.Body.OtherID)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &entityOutput{Body: entityBody(e)}, nil
	})

	o = op("forgetEntity", http.MethodDelete, "/v1/entities/{id}", "Forget an entity: destroy its key, delete its facts and mentions", http.StatusOK, "entities")
	o.Description = "Crypto-shredding erasure of one entity: its name, aliases, facts (as subject or object) and mentions become unreadable everywhere, backups included once they expire. Returns a receipt with counts."
	huma.Register(api, o, func(ctx context.Context, in *entityIDInput) (*struct{ Body *engram.EntityErasure }, error) {
		r, err := svc.ForgetEntity(ctx, in.ID)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.EntityErasure }{Body: r}, nil
	})
}

// entityBody gives aliases as [] rather than null.
func entityBody(e *engram.Entity) *engram.Entity {
	if e.Aliases == nil {
		e.Aliases = []string{}
	}
	for i := range e.Facts {
		factBody(&e.Facts[i])
	}
	return e
}
