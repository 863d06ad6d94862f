// Package mem0api serves the REST surface of the mem0 platform (the paths,
// methods, bodies and answers the official mem0ai clients use) beside
// Engram's own /v1 API, so that an application written for mem0 moves to
// Engram by changing only its host. Like httpapi it holds no business rule:
// it decodes mem0's shapes, calls the same engine services (same scopes,
// audit and encryption) and encodes mem0's answers. docs/MEM0.md lists the
// endpoints and what differs.
package mem0api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/engram-memory/engram"
)

// Config is what the mem0-compatible surface calls.
type Config struct {
	Memories engram.MemoryService
	// Scopes serves /v1/entities/ and the delete-all endpoints; nil answers
	// them 501.
	Scopes engram.ScopeService
	// Problem writes err as the API's problem+json (the one mapping from
	// error code to status lives in the transport that mounts this).
	Problem func(w http.ResponseWriter, r *http.Request, err error)
}

type handler func(w http.ResponseWriter, r *http.Request) error

// Mount registers the mem0 routes on mux. Every pattern ends in {$} (or is
// a subtree answered 501), so none overlaps Engram's own /v1 routes, which
// have no trailing slash. Authentication is the mounting server's.
func Mount(mux *http.ServeMux, cfg Config) {
	s := &server{mem: cfg.Memories, scopes: cfg.Scopes}
	h := func(pattern string, fn handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				cfg.Problem(w, r, err)
			}
		})
	}
	h("GET /v1/ping/{$}", s.ping)
	h("POST /v3/memories/add/{$}", s.add)
	h("POST /v3/memories/search/{$}", s.search)
	h("POST /v3/memories/{$}", s.list)
	h("GET /v1/memories/{id}/{$}", s.get)
	h("PUT /v1/memories/{id}/{$}", s.update)
	h("DELETE /v1/memories/{id}/{$}", s.delete)
	h("GET /v1/memories/{id}/history/{$}", s.history)
	h("DELETE /v1/memories/{$}", s.deleteAll)
	h("GET /v1/entities/{$}", s.entities)
	h("DELETE /v1/entities/{kind}/{id}/{$}", s.deleteEntity)
	h("DELETE /v2/entities/{kind}/{id}/{$}", s.deleteEntity)
	h("PUT /v1/batch/{$}", s.batchUpdate)
	h("DELETE /v1/batch/{$}", s.batchDelete)
	for _, p := range []string{"/v1/event/", "/v1/events/", "/v1/feedback/", "/v1/exports/", "/v2/profiles/", "/api/v1/"} {
		h(p, notServed)
	}
}

type server struct {
	mem    engram.MemoryService
	scopes engram.ScopeService
}

func notServed(http.ResponseWriter, *http.Request) error {
	return engram.Errorf(engram.CodeNotImplemented, "this mem0 endpoint is not served by Engram (see docs/MEM0.md)")
}

// decode reads a JSON body into v. An empty body leaves v as it is: mem0
// clients send none on some calls that may carry one.
func decode(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return engram.Errorf(engram.CodeTooLarge, "request body is larger than %d bytes", engram.MaxBodyBytes)
	default:
		// The decoder's message may quote the body: never echo it.
		return engram.Errorf(engram.CodeInvalid, "request body is not the JSON this endpoint takes")
	}
}

func reply(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client left; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

func invalid(format string, args ...any) error {
	return engram.Errorf(engram.CodeInvalid, format, args...)
}
