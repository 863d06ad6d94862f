package httpapi

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// commonErrors are the statuses every operation can answer, whatever it
// does: bad input (400), no or a wrong key (401), a missing scope (403), an
// unknown record (404), a body over the limit (413), too many requests
// (429), an internal error (500), a dependency that is down (503: the key
// service, the embedding model, a fail-closed audit sink) and a disk below
// its free-space floor (507). Every request appends an audit entry, so
// even a read can meet a full disk. Operations that can conflict add 409.
func commonErrors() []int {
	return []int{
		http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusServiceUnavailable, http.StatusInsufficientStorage,
	}
}

// retryAfter documents the header every 429 carries (ratelimit.go).
var retryAfter = &huma.Param{
	Description: "Seconds to wait before retrying.",
	Schema:      &huma.Schema{Type: "integer", Minimum: ptrFloat(1)},
}

func ptrFloat(f float64) *float64 { return &f }

// withConflict declares 409 on an operation that can conflict with the
// state: revoking the tenant's last owner key, an update whose user's key
// changed under it three times (an erasure or rotation racing it).
func withConflict(o huma.Operation) huma.Operation {
	o.Errors = append(o.Errors, http.StatusConflict)
	return o
}

// declareInvalidAs400 removes the 422 responses huma declares for every
// operation with inputs: the API answers every invalid request with 400
// (see the error hook in problem.go), so a 422 in the document would give
// generated clients a status that never comes. The 400 it keeps is the
// same Problem shape. It also documents 429's Retry-After header.
func declareInvalidAs400(doc *huma.OpenAPI) {
	for _, item := range doc.Paths {
		for _, o := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head, item.Options} {
			if o == nil || o.Responses == nil {
				continue
			}
			if r, ok := o.Responses["422"]; ok {
				delete(o.Responses, "422")
				if _, has := o.Responses["400"]; !has {
					o.Responses["400"] = r
				}
			}
			if r, ok := o.Responses["429"]; ok && r.Ref == "" {
				r.Headers = map[string]*huma.Param{"Retry-After": retryAfter}
			}
		}
	}
}
