package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// The Observe routes (docs/API.md "Observe"): a conversation in, an episode
// with the memories, entities and facts extracted from it out. Like every
// route they only decode, call engram.ObserveService and encode; limits the
// schema cannot express (bytes rather than characters, the predicate
// grammar) are the engine's.

type observeTurn struct {
	Role      string     `json:"role" minLength:"1" maxLength:"32" doc:"Who said it: user, assistant, …"`
	Content   string     `json:"content" maxLength:"65536"`
	Name      string     `json:"name,omitempty" maxLength:"256" doc:"The speaker's name, when the role alone does not say who it is."`
	Timestamp *time.Time `json:"timestamp,omitempty" doc:"When it was said (RFC 3339); relative dates in it resolve against this. Default: the request's timestamp."`
}

type observeInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Retries with the same key and body return the first answer instead of observing again (24 hours)."`
	Body           struct {
		Messages  []observeTurn  `json:"messages" minItems:"1" maxItems:"100" doc:"The conversation, oldest turn first."`
		Timestamp *time.Time     `json:"timestamp,omitempty" doc:"The reference time of messages without their own (RFC 3339). Default: now."`
		Metadata  map[string]any `json:"metadata,omitempty" doc:"Free-form JSON object kept with the episode's memories, encrypted at rest."`
		ScopeFields
	}
}

// pendingEpisode is the 202 answer: extraction runs later (an LLM
// extractor); GET /v1/episodes/{id} tells when it is done.
type pendingEpisode struct {
	ID     string `json:"episode_id"`
	Status string `json:"status" enum:"pending"`
}

// observeOutput is 201 with the episode, or 202 with pendingEpisode. Body
// is declared any so that both fit; the two response schemas are declared
// by hand in registerObserve.
type observeOutput struct {
	Status int
	Body   any
}

type episodeIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Episode id."`
}

type episodeOutput struct{ Body *engram.Episode }

type episodeListOutput struct {
	Body struct {
		Results    []engram.Episode `json:"results"`
		NextCursor string           `json:"next_cursor,omitempty" doc:"Absent on the last page."`
	}
}

// registerObserve registers the Observe, entity and fact routes; a nil
// service leaves them out.
func registerObserve(api huma.API, svc engram.ObserveService) {
	if svc == nil {
		return
	}
	registerEpisodes(api, svc)
	registerEntities(api, svc)
	registerFacts(api, svc)
	nullableObject(api.OpenAPI())
}

func registerEpisodes(api huma.API, svc engram.ObserveService) {
	reg := api.OpenAPI().Components.Schemas
	o := op("observe", http.MethodPost, "/v1/observe", "Observe a conversation: store it and extract entities and facts", http.StatusCreated, "observe")
	o.Description = "Stores the conversation as an episode, its turns as memories, and the entities and facts extracted from it. " +
		"201 carries what the call did to each (event add, update, mention, invalidate, merge, end). " +
		"When extraction is asynchronous (an LLM extractor) the answer is 202 with the episode id and status pending; poll GET /v1/episodes/{id}."
	o.Responses = map[string]*huma.Response{
		"201": {Description: "The episode, extracted.", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[engram.Episode](), true, "Episode")}}},
		"202": {Description: "Accepted; extraction runs later.", Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[pendingEpisode](), true, "PendingEpisode")}}},
	}
	o.Errors = append(o.Errors, http.StatusConflict) // an Idempotency-Key reused with a different request
	huma.Register(api, o, func(ctx context.Context, in *observeInput) (*observeOutput, error) {
		msgs := make([]engram.ObserveMessage, len(in.Body.Messages))
		for i, m := range in.Body.Messages {
			msgs[i] = engram.ObserveMessage{Role: m.Role, Content: m.Content, Name: m.Name, Timestamp: m.Timestamp}
		}
		ep, err := svc.Observe(ctx, engram.ObserveRequest{
			Messages: msgs, Scope: in.Body.scope(), Timestamp: in.Body.Timestamp,
			Metadata: in.Body.Metadata, IdempotencyKey: in.IdempotencyKey,
		})
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		if ep.Status == engram.EpisodePending {
			return &observeOutput{Status: http.StatusAccepted, Body: pendingEpisode{ID: ep.ID, Status: ep.Status}}, nil
		}
		return &observeOutput{Status: http.StatusCreated, Body: episodeBody(ep)}, nil
	})

	huma.Register(api, op("listEpisodes", http.MethodGet, "/v1/episodes", "List observed episodes, newest first", http.StatusOK, "observe"),
		func(ctx context.Context, in *listInput) (*episodeListOutput, error) {
			eps, next, err := svc.Episodes(ctx, engram.Scope{UserID: in.UserID, AgentID: in.AgentID, RunID: in.RunID}, in.Cursor, in.Limit)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &episodeListOutput{}
			out.Body.Results, out.Body.NextCursor = make([]engram.Episode, len(eps)), next
			for i := range eps {
				out.Body.Results[i] = *episodeBody(&eps[i])
			}
			return out, nil
		})

	huma.Register(api, op("getEpisode", http.MethodGet, "/v1/episodes/{id}", "Get an episode and what extraction made of it", http.StatusOK, "observe"),
		func(ctx context.Context, in *episodeIDInput) (*episodeOutput, error) {
			ep, err := svc.Episode(ctx, in.ID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &episodeOutput{Body: episodeBody(ep)}, nil
		})
}

// episodeBody gives the episode's lists as [] rather than null: clients
// index them without a nil check, as the contract shows them.
func episodeBody(ep *engram.Episode) *engram.Episode {
	if ep.Memories == nil {
		ep.Memories = []engram.AddResult{}
	}
	if ep.Entities == nil {
		ep.Entities = []engram.EntityRef{}
	}
	if ep.Facts == nil {
		ep.Facts = []engram.FactRef{}
	}
	return ep
}

// nullableObject declares Fact.object as "an EntityRef or null": huma makes
// a pointer to a struct a plain $ref, but a fact with a literal value has
// no object and says so with null (docs/API.md).
func nullableObject(doc *huma.OpenAPI) {
	fact := doc.Components.Schemas.Map()["Fact"]
	if fact == nil || fact.Properties["object"] == nil {
		return
	}
	ref := fact.Properties["object"]
	fact.Properties["object"] = &huma.Schema{AnyOf: []*huma.Schema{ref, {Type: "null"}}}
}
