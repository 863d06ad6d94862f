package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

// The fact routes: (subject, predicate, object or value) statements with
// their two time axes, and the topics and patterns derived from a user's
// memories and facts.

type factListInput struct {
	UserID         string    `query:"user_id" maxLength:"256"`
	EntityID       string    `query:"entity_id" maxLength:"64" doc:"Facts with this entity as subject or object."`
	Predicate      string    `query:"predicate" maxLength:"64" doc:"A canonical predicate: lives_in, works_at, likes, …"`
	AsOf           time.Time `query:"as_of" doc:"The facts true in the world at this time (RFC 3339), whenever Engram learned them."`
	IncludeInvalid bool      `query:"include_invalid" doc:"Also the facts no longer true (invalid_at set) and the retired ones (expired_at set)."`
	Limit          int       `query:"limit" minimum:"1" maximum:"200" doc:"At most this many facts (default 50)."`
}

type factSearchInput struct {
	Body struct {
		Query  string     `json:"query" minLength:"1" maxLength:"4096"`
		UserID string     `json:"user_id,omitempty" maxLength:"256"`
		AsOf   *time.Time `json:"as_of,omitempty" doc:"Rank the facts true at this time instead of the current ones."`
		Limit  int        `json:"limit,omitempty" minimum:"1" maximum:"100" doc:"Results to return (default 10)."`
	}
}

type newFactInput struct {
	Body struct {
		Subject   string     `json:"subject" minLength:"1" maxLength:"256" doc:"The subject entity's name; an entity of that name in the scope is used, else one is created."`
		Predicate string     `json:"predicate" minLength:"1" maxLength:"64" doc:"A canonical predicate (lives_in, works_at, likes, …; docs/OBSERVE.md lists them) or any other printable text."`
		Object    string     `json:"object,omitempty" maxLength:"256" doc:"The object entity's name, when the fact links two entities. Give object or value."`
		Value     string     `json:"value,omitempty" maxLength:"1024" doc:"A literal value (a job title, a date, a number)."`
		ValidAt   *time.Time `json:"valid_at,omitempty" doc:"Since when it is true in the world. Default: now."`
		InvalidAt *time.Time `json:"invalid_at,omitempty" doc:"Until when it was true, if it no longer is."`
		Negated   bool       `json:"negated,omitempty" doc:"The statement says this is no longer so: it ends the matching current facts instead of adding one."`
		UserID    string     `json:"user_id,omitempty" maxLength:"256"`
		Sentence  string     `json:"fact,omitempty" maxLength:"65536" doc:"The statement as written; made from the triple when absent."`
	}
}

type factIDInput struct {
	ID string `path:"id" maxLength:"64" doc:"Fact id."`
}

type userQueryInput struct {
	UserID string `query:"user_id" maxLength:"256"`
}

type factOutput struct{ Body *engram.Fact }

func registerFacts(api huma.API, svc engram.ObserveService) {
	o := op("listFacts", http.MethodGet, "/v1/facts", "List facts", http.StatusOK, "facts")
	o.Description = "Current facts only (neither invalidated nor retired), unless as_of (the facts true then) or include_invalid (all of them)."
	huma.Register(api, o, func(ctx context.Context, in *factListInput) (*resultsBody[engram.Fact], error) {
		q := engram.FactQuery{UserID: in.UserID, EntityID: in.EntityID, Predicate: in.Predicate, IncludeInvalid: in.IncludeInvalid, Limit: in.Limit}
		if !in.AsOf.IsZero() {
			q.AsOf = &in.AsOf
		}
		fs, err := svc.Facts(ctx, q)
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return factsBody(fs), nil
	})

	huma.Register(api, op("searchFacts", http.MethodPost, "/v1/facts/search", "Search facts", http.StatusOK, "facts"),
		func(ctx context.Context, in *factSearchInput) (*resultsBody[engram.Fact], error) {
			fs, err := svc.SearchFacts(ctx, engram.FactSearch{Query: in.Body.Query, UserID: in.Body.UserID, AsOf: in.Body.AsOf, Limit: in.Body.Limit})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return factsBody(fs), nil
		})

	o = op("addFact", http.MethodPost, "/v1/facts", "State a fact by hand", http.StatusCreated, "facts")
	o.Description = "The same contradiction rules as observed facts: a new value of a single-valued predicate (lives_in, works_at, …) ends the current one."
	huma.Register(api, o, func(ctx context.Context, in *newFactInput) (*factOutput, error) {
		b := in.Body
		f, err := svc.AddFact(ctx, engram.NewFact{Subject: b.Subject, Predicate: b.Predicate, Object: b.Object, Value: b.Value,
			ValidAt: b.ValidAt, InvalidAt: b.InvalidAt, Negated: b.Negated, UserID: b.UserID, Sentence: b.Sentence})
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &factOutput{Body: factBody(f)}, nil
	})

	huma.Register(api, op("getFact", http.MethodGet, "/v1/facts/{id}", "Get a fact", http.StatusOK, "facts"),
		func(ctx context.Context, in *factIDInput) (*factOutput, error) {
			f, err := svc.GetFact(ctx, in.ID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &factOutput{Body: factBody(f)}, nil
		})

	huma.Register(api, op("deleteFact", http.MethodDelete, "/v1/facts/{id}", "Delete a fact", http.StatusNoContent, "facts"),
		func(ctx context.Context, in *factIDInput) (*struct{}, error) {
			if err := svc.DeleteFact(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, op("listTopics", http.MethodGet, "/v1/topics", "Topics of a user's memories, with counts", http.StatusOK, "facts"),
		func(ctx context.Context, in *userQueryInput) (*resultsBody[engram.TopicCount], error) {
			ts, err := svc.Topics(ctx, in.UserID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.TopicCount]{}
			out.Body.Results = nonNil(ts)
			return out, nil
		})

	huma.Register(api, op("listPatterns", http.MethodGet, "/v1/patterns", "What recurs across a user's episodes", http.StatusOK, "facts"),
		func(ctx context.Context, in *userQueryInput) (*resultsBody[engram.Pattern], error) {
			ps, err := svc.Patterns(ctx, in.UserID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			for i := range ps {
				ps[i].Facts, ps[i].Episodes = nonNil(ps[i].Facts), nonNil(ps[i].Episodes)
			}
			out := &resultsBody[engram.Pattern]{}
			out.Body.Results = nonNil(ps)
			return out, nil
		})
}

func factsBody(fs []engram.Fact) *resultsBody[engram.Fact] {
	out := &resultsBody[engram.Fact]{}
	out.Body.Results = nonNil(fs)
	for i := range fs {
		factBody(&fs[i])
	}
	return out
}

// factBody gives a fact's episodes as [] rather than null.
func factBody(f *engram.Fact) *engram.Fact {
	f.Episodes = nonNil(f.Episodes)
	return f
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
