package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/testserver"
)

// The role × endpoint test: one tenant with an account of each of the five
// roles, each calling every endpoint of the REST API (and the mem0 routes)
// with an API key holding every scope its role may hold. The answer must be
// exactly what internal/rbac's matrix says: 2xx when the role's key may do
// the operation (and reaches the record), 403 when it may not, 404 for a
// record it may not even read (like another tenant's). The expected table
// is computed from rbac.Matrix, so the two cannot drift; the endpoint list
// is the OpenAPI document's, so a new endpoint fails the test until it is
// classified in restCases.

// target is which record a per-record call names.
type target int

const (
	noRecord     target = iota
	ownShared           // the caller's own shared memory (or key)
	otherShared         // another member's shared memory (or key)
	otherPrivate        // another member's private memory
)

func (t target) String() string {
	return [...]string{"", "own", "other's shared", "other's private"}[t]
}

// call is one request to make.
type rcall struct {
	method, path string
	body         any
}

// restCase is how to call one endpoint: the operation it is authorised as,
// the records it may name, and the request (made fresh for each call, so
// a delete has something to delete).
type restCase struct {
	op      rbac.Op
	targets []target // nil: noRecord
	// keyRecord: the record is an API key (private to its account), not a
	// memory.
	keyRecord bool
	// alsoAllowed is a status that, for this endpoint, means authorised
	// (the operation ran and refused for a reason of its own).
	alsoAllowed int
	build       func(f *rbacFixture, who *actor, tg target) rcall
}

var memoryTargets = []target{ownShared, otherShared, otherPrivate}

type actor struct {
	person   bool   // signed in: key is a session's access token
	password string // a person's
	role     engram.Role
	id, key  string
	ctx      context.Context // its key's principal, for making fixtures
	session  context.Context // its own session
}

type rbacFixture struct {
	t        *testing.T
	s        *testserver.Server
	owner    *actor
	carol    *actor // a member: the "other" author
	seq      atomic.Int64
	tenantID string
	episode  string
	segFirst uint64
}

func (f *rbacFixture) n() int64 { return f.seq.Add(1) }

// configureSSO gives the tenant an SSO configuration (set by the owner
// signed in, the only one who may), so that reading it answers 200.
func (f *rbacFixture) configureSSO() {
	f.t.Helper()
	_, err := f.s.Engine.ConfigureSSO(f.owner.session, engram.SSOConfig{Kind: "oidc",
		OIDC: &engram.SSOOIDC{Issuer: "https://idp.example.com", ClientID: "engram", ClientSecret: "s3cret"}})
	if err != nil {
		f.t.Fatal(err)
	}
}

// memory writes a fresh memory as author, private or shared.
func (f *rbacFixture) memory(author *actor, private bool) string {
	f.t.Helper()
	v := engram.VisibilityShared
	if private {
		v = engram.VisibilityPrivate
	}
	rs, err := f.s.Engine.Add(author.ctx, engram.AddRequest{Content: fmt.Sprintf("fixture memory %d", f.n()),
		Scope: engram.Scope{UserID: "u1"}, Visibility: v})
	if err != nil {
		f.t.Fatal(err)
	}
	return rs[0].ID
}

func (f *rbacFixture) memoryFor(who *actor, tg target) string {
	switch tg {
	case ownShared:
		return f.memory(who, false)
	case otherShared:
		return f.memory(f.carol, false)
	}
	return f.memory(f.carol, true)
}

// entity makes a fresh entity of user u1 and returns its name and id.
func (f *rbacFixture) entity() (string, string) {
	f.t.Helper()
	name := fmt.Sprintf("Fixture Entity %d", f.n())
	if _, err := f.s.Engine.CreateEntities(f.owner.ctx, engram.Scope{UserID: "u1"},
		[]engram.GraphEntity{{Name: name, EntityType: "person", Observations: []string{"likes tea"}}}); err != nil {
		f.t.Fatal(err)
	}
	l, err := f.s.Engine.ListEntities(f.owner.ctx, engram.EntityQuery{UserID: "u1", Query: name})
	if err != nil || len(l.Results) == 0 {
		f.t.Fatalf("entity %s: %+v %v", name, l, err)
	}
	return name, l.Results[0].ID
}

func (f *rbacFixture) fact() string {
	f.t.Helper()
	fa, err := f.s.Engine.AddFact(f.owner.ctx, engram.NewFact{UserID: "u1", Subject: fmt.Sprintf("Fixture Person %d", f.n()),
		Predicate: "works_at", Object: "Zentrix"})
	if err != nil {
		f.t.Fatal(err)
	}
	return fa.ID
}

// extraMember adds a fresh member to the tenant (a target for role
// changes, removals and transfers) and returns its account id.
func (f *rbacFixture) extraMember() string {
	f.t.Helper()
	return f.s.AddMember(f.t, f.tenantID, engram.RoleMember).AccountID
}

func (f *rbacFixture) hold() string {
	f.t.Helper()
	h, err := f.s.Engine.CreateAuditHold(f.owner.ctx, engram.AuditHoldRequest{ReasonCode: "fixture", UserID: "held-user"})
	if err != nil {
		f.t.Fatal(err)
	}
	return h.ID
}

// keyOf makes a fresh API key of who (its own) or of carol (another's).
func (f *rbacFixture) keyOf(who *actor, tg target) string {
	f.t.Helper()
	owner := f.carol
	if tg == ownShared {
		owner = who
	}
	k, err := f.s.Engine.CreateKey(owner.session, engram.CreateKeyRequest{Name: fmt.Sprintf("fixture %d", f.n())})
	if err != nil {
		f.t.Fatal(err)
	}
	return k.ID
}

func u1(extra map[string]any) map[string]any {
	m := map[string]any{"user_id": "u1"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// restCases classifies every REST endpoint by its OpenAPI operation id.
var restCases = map[string]restCase{
	// Memories.
	"addMemory": {op: rbac.MemoryCreate, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/memories", u1(map[string]any{"content": fmt.Sprintf("added %d", f.n()), "visibility": "private"})}
	}},
	"listMemories": {op: rbac.MemoryRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/memories?user_id=u1", nil} }},
	"searchMemories": {op: rbac.MemoryRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/search", map[string]any{"query": "fixture"}}
	}},
	"getMemory": {op: rbac.MemoryRead, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"GET", "/v1/memories/" + f.memoryFor(who, tg), nil}
	}},
	"memoryHistory": {op: rbac.MemoryRead, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"GET", "/v1/memories/" + f.memoryFor(who, tg) + "/history", nil}
	}},
	"updateMemory": {op: rbac.MemoryUpdate, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"PUT", "/v1/memories/" + f.memoryFor(who, tg), map[string]any{"content": "changed"}}
	}},
	"deleteMemory": {op: rbac.MemoryDelete, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"DELETE", "/v1/memories/" + f.memoryFor(who, tg), nil}
	}},

	// Observe and the graph.
	"observe": {op: rbac.Observe, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/observe", u1(map[string]any{"messages": []map[string]any{{"role": "user", "content": fmt.Sprintf("I moved to Lisbon %d", f.n())}}})}
	}},
	"listEpisodes": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/episodes?user_id=u1", nil} }},
	"getEpisode":   {op: rbac.GraphRead, build: func(f *rbacFixture, _ *actor, _ target) rcall { return rcall{"GET", "/v1/episodes/" + f.episode, nil} }},
	"listEntities": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/entities?user_id=u1", nil} }},
	"getEntity": {op: rbac.GraphRead, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		_, id := f.entity()
		return rcall{"GET", "/v1/entities/" + id, nil}
	}},
	"forgetEntity": {op: rbac.EntityForget, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		_, id := f.entity()
		return rcall{"DELETE", "/v1/entities/" + id, nil}
	}},
	"mergeEntities": {op: rbac.EntityMerge, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		_, a := f.entity()
		_, b := f.entity()
		return rcall{"POST", "/v1/entities/" + a + "/merge", map[string]any{"other_id": b}}
	}},
	"listFacts": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/facts?user_id=u1", nil} }},
	"getFact":   {op: rbac.GraphRead, build: func(f *rbacFixture, _ *actor, _ target) rcall { return rcall{"GET", "/v1/facts/" + f.fact(), nil} }},
	"addFact": {op: rbac.GraphWrite, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/facts", u1(map[string]any{"subject": fmt.Sprintf("Someone %d", f.n()), "predicate": "lives_in", "object": "Porto"})}
	}},
	"searchFacts": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/facts/search", u1(map[string]any{"query": "Zentrix"})}
	}},
	"deleteFact":   {op: rbac.GraphDelete, build: func(f *rbacFixture, _ *actor, _ target) rcall { return rcall{"DELETE", "/v1/facts/" + f.fact(), nil} }},
	"listTopics":   {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/topics?user_id=u1", nil} }},
	"listPatterns": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/patterns?user_id=u1", nil} }},
	"graphCreateEntities": {op: rbac.GraphWrite, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/graph/create_entities", u1(map[string]any{"entities": []map[string]any{{"name": fmt.Sprintf("New %d", f.n()), "entityType": "person", "observations": []string{}}}})}
	}},
	"graphCreateRelations": {op: rbac.GraphWrite, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		a, _ := f.entity()
		b, _ := f.entity()
		return rcall{"POST", "/v1/graph/create_relations", u1(map[string]any{"relations": []map[string]any{{"from": a, "to": b, "relationType": "knows"}}})}
	}},
	"graphAddObservations": {op: rbac.GraphWrite, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		a, _ := f.entity()
		return rcall{"POST", "/v1/graph/add_observations", u1(map[string]any{"observations": []map[string]any{{"entityName": a, "contents": []string{"plays chess"}}}})}
	}},
	"graphDeleteEntities": {op: rbac.GraphDelete, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		a, _ := f.entity()
		return rcall{"POST", "/v1/graph/delete_entities", u1(map[string]any{"entityNames": []string{a}})}
	}},
	"graphDeleteObservations": {op: rbac.GraphDelete, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		a, _ := f.entity()
		return rcall{"POST", "/v1/graph/delete_observations", u1(map[string]any{"deletions": []map[string]any{{"entityName": a, "observations": []string{"likes tea"}}}})}
	}},
	"graphDeleteRelations": {op: rbac.GraphDelete, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		a, _ := f.entity()
		b, _ := f.entity()
		return rcall{"POST", "/v1/graph/delete_relations", u1(map[string]any{"relations": []map[string]any{{"from": a, "to": b, "relationType": "knows"}}})}
	}},
	"graphOpenNodes": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/graph/open_nodes", u1(map[string]any{"names": []string{"Nobody"}})}
	}},
	"graphReadGraph": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"POST", "/v1/graph/read_graph", u1(nil)} }},
	"graphSearchNodes": {op: rbac.GraphRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/graph/search_nodes", u1(map[string]any{"query": "tea"})}
	}},

	// Keys.
	"createKey": {op: rbac.KeyCreate, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/keys", map[string]any{"name": fmt.Sprintf("made %d", f.n())}}
	}},
	"listKeys": {op: rbac.KeyList, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/keys", nil} }},
	"revokeKey": {op: rbac.KeyRevoke, targets: []target{ownShared, otherShared}, keyRecord: true, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"DELETE", "/v1/keys/" + f.keyOf(who, tg), nil}
	}},

	// Audit.
	"listAudit":          {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit", nil} }},
	"getAuditCheckpoint": {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit/checkpoint", nil} }},
	"verifyAudit":        {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit/verify", nil} }},
	"listAuditKeys":      {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit/keys", nil} }},
	"getAuditInclusionProof": {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"GET", "/v1/audit/proofs/inclusion?seq=1", nil}
	}},
	"getAuditConsistencyProof": {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"GET", "/v1/audit/proofs/consistency?from=1", nil}
	}},
	"listAuditSegments": {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit/segments", nil} }},
	"getAuditSegmentBundle": {op: rbac.AuditRead, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"GET", fmt.Sprintf("/v1/audit/segments/%d/bundle", f.segFirst), nil}
	}},
	"listAuditHolds": {op: rbac.AuditRead, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/audit/holds", nil} }},
	"createAuditHold": {op: rbac.AuditHold, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/audit/holds", map[string]any{"reason_code": "litigation", "user_id": "held-user"}}
	}},
	"releaseAuditHold": {op: rbac.AuditHold, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"DELETE", "/v1/audit/holds/" + f.hold(), nil}
	}},

	// Privacy and the tenant.
	"forgetUser": {op: rbac.UserForget, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		user := fmt.Sprintf("gone-%d", f.n())
		if _, err := f.s.Engine.Add(f.owner.ctx, engram.AddRequest{Content: "to forget", Scope: engram.Scope{UserID: user}}); err != nil {
			f.t.Fatal(err)
		}
		return rcall{"DELETE", "/v1/users/" + user, nil}
	}},
	"exportTenant": {op: rbac.TenantExport, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/export", nil} }},
	"exportUser": {op: rbac.UserExport, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"GET", "/v1/users/someone/export?format=json", nil}
	}},
	"importTenant": {op: rbac.TenantImport, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/import?format=mem0&dry_run=true", map[string]any{"results": []any{map[string]any{"memory": "likes tea", "user_id": "u"}}}}
	}},
	"exportMine":   {op: rbac.Profile, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/me/export", nil} }},
	"getExportKey": {op: rbac.ExportKeys, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/export/keys", nil} }},
	"rotateKeys":   {op: rbac.TenantRotate, build: func(*rbacFixture, *actor, target) rcall { return rcall{"POST", "/v1/encryption-keys/rotate", nil} }},

	// Members and the account.
	"listMembers": {op: rbac.MemberList, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/members", nil} }},
	"invite": {op: rbac.MemberInvite, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/invitations", map[string]any{"email": fmt.Sprintf("new%d@example.com", f.n()), "role": "reader"}}
	}},
	"changeRole": {op: rbac.MemberRoleChange, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"PATCH", "/v1/members/" + f.extraMember(), map[string]any{"role": "reader"}}
	}},
	"removeMember": {op: rbac.MemberRemove, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"DELETE", "/v1/members/" + f.extraMember(), nil}
	}},
	"transferOwnership": {op: rbac.OwnershipTransfer, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v1/members/" + f.extraMember() + "/transfer-ownership", nil}
	}},
	"listSessions":     {op: rbac.SessionRevoke, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/auth/sessions", nil} }},
	"logoutEverywhere": {op: rbac.SessionRevoke, build: func(*rbacFixture, *actor, target) rcall { return rcall{"POST", "/v1/auth/logout-everywhere", nil} }},
	"changePassword": {op: rbac.Profile, build: func(_ *rbacFixture, who *actor, _ target) rcall {
		current := who.password
		if current == "" {
			current = "not the password"
		}
		return rcall{"POST", "/v1/auth/password", map[string]any{"current_password": current, "new_password": "Heron-Quarry-77-Violet-" + string(who.role)}}
	}},
	"updateProfile": {op: rbac.Profile, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"PATCH", "/v1/me", map[string]any{"name": "renamed"}}
	}},
	// Without a mail server the server answers 409 once the caller was
	// authorised: the test's server has none.
	"requestVerification": {op: rbac.Profile, alsoAllowed: http.StatusConflict, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/me/verify-email", nil}
	}},
	"getSSO": {op: rbac.SSORead, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		f.configureSSO()
		return rcall{"GET", "/v1/sso", nil}
	}},
	"putSSO": {op: rbac.SSOConfigure, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"PUT", "/v1/sso", map[string]any{"kind": "oidc", "policy": map[string]any{"jit": false},
			"oidc": map[string]any{"issuer": "https://idp.example.com", "client_id": "engram", "client_secret": "s3cret"}}}
	}},
	"deleteSSO": {op: rbac.SSOConfigure, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		f.configureSSO() // something to delete
		return rcall{"DELETE", "/v1/sso", nil}
	}},
	// Deletion with a grace period. An only owner's request answers 409
	// sole_owner once authorised; a cancel without a pending deletion
	// (the request was refused) answers 404.
	"deleteMe": {op: rbac.Profile, alsoAllowed: http.StatusConflict, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"DELETE", "/v1/me", nil}
	}},
	"cancelMyDeletion": {op: rbac.Profile, alsoAllowed: http.StatusNotFound, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v1/me/deletion/cancel", nil}
	}},
	"cancelUserDeletion": {op: rbac.UserForget, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		user := fmt.Sprintf("leaving-%d", f.n())
		if _, err := f.s.Engine.ScheduleUserDeletion(f.owner.ctx, user, time.Hour); err != nil {
			f.t.Fatal(err)
		}
		return rcall{"POST", "/v1/users/" + user + "/deletion/cancel", nil}
	}},
	"listDeletions": {op: rbac.UserForget, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/deletions", nil} }},
	// GET /v1/me answers any principal, a key too (the Profile row's note).
	"me": {op: anyPrincipal, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/me", nil} }},
}

// anyPrincipal marks an endpoint every authenticated principal may call.
const anyPrincipal rbac.Op = "any principal"

// publicOps answer without a principal (sign-in, refresh, links): they are
// not operations of the matrix; the OpenAPI document must say so too (an
// empty security requirement).
var publicOps = map[string]bool{
	"login": true, "logout": true, "refresh": true, "requestPasswordReset": true, "resetPassword": true,
	"acceptInvitation": true, "verifyEmail": true,
}

// mem0Cases are the mem0-compatible routes (internal/mem0api.Mount), by
// pattern: they are not in the OpenAPI document.
var mem0Cases = map[string]restCase{
	"POST /v3/memories/add/": {op: rbac.MemoryCreate, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"POST", "/v3/memories/add/", u1(map[string]any{"messages": []map[string]any{{"role": "user", "content": fmt.Sprintf("mem0 add %d", f.n())}}, "infer": false})}
	}},
	"POST /v3/memories/search/": {op: rbac.MemoryRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v3/memories/search/", map[string]any{"query": "fixture", "filters": map[string]any{"user_id": "u1"}}}
	}},
	"POST /v3/memories/": {op: rbac.MemoryRead, build: func(*rbacFixture, *actor, target) rcall {
		return rcall{"POST", "/v3/memories/", map[string]any{"filters": map[string]any{"user_id": "u1"}}}
	}},
	"GET /v1/memories/{id}/": {op: rbac.MemoryRead, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"GET", "/v1/memories/" + f.memoryFor(who, tg) + "/", nil}
	}},
	"GET /v1/memories/{id}/history/": {op: rbac.MemoryRead, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"GET", "/v1/memories/" + f.memoryFor(who, tg) + "/history/", nil}
	}},
	"PUT /v1/memories/{id}/": {op: rbac.MemoryUpdate, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"PUT", "/v1/memories/" + f.memoryFor(who, tg) + "/", map[string]any{"text": "changed by mem0"}}
	}},
	"DELETE /v1/memories/{id}/": {op: rbac.MemoryDelete, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"DELETE", "/v1/memories/" + f.memoryFor(who, tg) + "/", nil}
	}},
	"PUT /v1/batch/": {op: rbac.MemoryUpdate, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"PUT", "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": f.memoryFor(who, tg), "text": "batch"}}}}
	}},
	"DELETE /v1/batch/": {op: rbac.MemoryDelete, targets: memoryTargets, build: func(f *rbacFixture, who *actor, tg target) rcall {
		return rcall{"DELETE", "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": f.memoryFor(who, tg)}}}}
	}},
	"DELETE /v1/memories/": {op: rbac.MemoryDeleteAll, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"DELETE", fmt.Sprintf("/v1/memories/?user_id=nobody-%d", f.n()), nil}
	}},
	"GET /v1/entities/": {op: rbac.ScopeList, build: func(*rbacFixture, *actor, target) rcall { return rcall{"GET", "/v1/entities/", nil} }},
	"DELETE /v1/entities/{kind}/{id}/": {op: rbac.MemoryDeleteAll, build: func(f *rbacFixture, _ *actor, _ target) rcall {
		return rcall{"DELETE", fmt.Sprintf("/v1/entities/user/nobody-%d/", f.n()), nil}
	}},
}

// expected is the matrix's answer for a key of role (holding every scope
// the role may hold) doing op on a record rec (nil: none).
func expected(who *actor, op rbac.Op, rec *rbac.Record, keyRecord bool) int {
	if op == anyPrincipal {
		return http.StatusOK
	}
	a := rbac.Actor{AccountID: who.id, Role: who.role, Key: !who.person, Scopes: rbac.RolePermissions(who.role)}
	reach, err := rbac.Authorize(a, op)
	if err != nil {
		return http.StatusForbidden
	}
	if rec == nil || rbac.Allows(reach, who.id, *rec) {
		return http.StatusOK
	}
	if keyRecord {
		return http.StatusNotFound // another account's key: not found at reach own
	}
	if r, err := rbac.Authorize(a, rbac.MemoryRead); err == nil && rbac.Allows(r, who.id, *rec) {
		return http.StatusForbidden // it may read it, not change it
	}
	return http.StatusNotFound
}

func recordOf(f *rbacFixture, who *actor, tg target, keyRecord bool) *rbac.Record {
	switch {
	case tg == noRecord:
		return nil
	case keyRecord && tg == ownShared:
		return &rbac.Record{AuthorID: who.id, Private: true}
	case keyRecord:
		return &rbac.Record{AuthorID: f.carol.id, Private: true}
	case tg == ownShared:
		return &rbac.Record{AuthorID: who.id}
	case tg == otherShared:
		return &rbac.Record{AuthorID: f.carol.id}
	}
	return &rbac.Record{AuthorID: f.carol.id, Private: true}
}

func doKey(t *testing.T, base, key string, c rcall) (int, string) {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		b, _ := json.Marshal(c.body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// class folds a status into the matrix's three answers.
func class(code int) int {
	if code >= 200 && code < 300 {
		return http.StatusOK
	}
	return code
}

func newRBACFixture(t *testing.T) (*rbacFixture, []*actor) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Engine.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	f := &rbacFixture{t: t, s: s, tenantID: p.TenantID}
	f.owner = &actor{role: engram.RoleOwner, id: p.AccountID, key: nt.Key.Secret, ctx: engram.WithPrincipal(ctx, p),
		session: engram.WithPrincipal(ctx, &engram.Principal{TenantID: p.TenantID, AccountID: p.AccountID, Role: engram.RoleOwner,
			SessionID: "owner-session", Permissions: engram.RoleOwner.Permissions()})}
	actors := []*actor{f.owner}
	for _, role := range rbac.Roles[1:] {
		m := s.AddMember(t, p.TenantID, role)
		actors = append(actors, &actor{role: role, id: m.AccountID, key: m.Key, ctx: m.Context(t, s.Engine), session: m.Session})
	}
	c := s.AddMember(t, p.TenantID, engram.RoleMember)
	f.carol = &actor{role: engram.RoleMember, id: c.AccountID, key: c.Key, ctx: c.Context(t, s.Engine), session: c.Session}
	ep, err := s.Engine.Observe(f.owner.ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: "u1"},
		Messages: []engram.ObserveMessage{{Role: "user", Content: "Alice works at Zentrix."}}})
	if err != nil {
		t.Fatal(err)
	}
	f.episode = ep.ID
	f.memory(f.owner, false)
	sealAll(t, s, 1000)
	segs, err := s.Engine.AuditSegments(f.owner.ctx, "", 0)
	if err != nil || len(segs.Segments) == 0 {
		t.Fatalf("segments: %+v %v", segs, err)
	}
	f.segFirst = segs.Segments[0].First
	return f, actors
}

// TestRoleEndpointMatrix: every endpoint × every role × every record kind
// answers what rbac.Matrix says, for API keys.
func TestRoleEndpointMatrix(t *testing.T) {
	f, actors := newRBACFixture(t)
	runMatrix(t, f, actors, handWritten)
}

// TestRoleEndpointMatrixSessions: the same for people signed in (a session
// acts with its role, without scopes, and may do the session-only
// operations). The calls that end the session or change the caller's role
// run last for each person (sessionLast).
func TestRoleEndpointMatrixSessions(t *testing.T) {
	f, _ := newRBACFixture(t)
	var people []*actor
	for _, role := range rbac.Roles {
		email := fmt.Sprintf("%s@example.com", role)
		pw := "Quokka-Meadow-41-" + string(role)
		tk, id := inviteAndSignIn(t, f.s, f.owner.key, email, string(role), pw)
		p, err := f.s.Engine.Authenticate(context.Background(), tk.AccessToken)
		if err != nil || !p.Person() {
			t.Fatalf("session of the %s: %+v %v", role, p, err)
		}
		ctx := engram.WithPrincipal(context.Background(), p)
		people = append(people, &actor{person: true, role: role, id: id, key: tk.AccessToken, ctx: ctx, session: ctx, password: pw})
	}
	runMatrix(t, f, people, map[string]int{
		"member listKeys":                  200, // signed in, a member lists its own keys
		"reader createKey":                 200,
		"owner transferOwnership":          200, // session only: a person may
		"admin transferOwnership":          403,
		"member changePassword":            200,
		"member revokeKey other's shared":  404, // another account's key: not found
		"member getMemory other's private": 404,
		"reader addMemory":                 403,
	})
}

// sessionLast are run last, in this order, for each person: a deletion
// request makes the account read-only until its cancel; a transfer
// changes the caller's role, a password change and logging out everywhere
// end sessions.
var sessionLast = []string{"deleteMe", "cancelMyDeletion", "transferOwnership", "changePassword", "logoutEverywhere"}

var handWritten = map[string]int{
	"owner rotateKeys":                              200,
	"admin rotateKeys":                              403,
	"reader addMemory":                              403,
	"member addMemory":                              200,
	"member getMemory other's private":              404,
	"admin getMemory other's private":               404,
	"owner getMemory other's private":               200,
	"member getMemory other's shared":               200,
	"member updateMemory other's shared":            403,
	"operator updateMemory other's shared":          200,
	"member deleteMemory own":                       200,
	"reader memoryHistory other's private":          404,
	"member graphDeleteEntities":                    403,
	"operator graphDeleteEntities":                  200,
	"member forgetEntity":                           403,
	"operator listAudit":                            403,
	"admin listAudit":                               200,
	"admin createAuditHold":                         200,
	"operator createAuditHold":                      403,
	"admin forgetUser":                              200,
	"operator forgetUser":                           403,
	"member listKeys":                               403, // a member's key holds no keys:admin
	"admin revokeKey other's shared":                200,
	"reader searchMemories":                         200,
	"reader observe":                                403,
	"member GET /v1/memories/{id}/ other's private": 404,
	"owner GET /v1/memories/{id}/ other's private":  200,
	"member DELETE /v1/batch/ other's shared":       403,
	"member listMembers":                            200,
	"admin invite":                                  200,
	"operator invite":                               403,
	"owner transferOwnership":                       403, // session only: no key
	"reader me":                                     200,
}

// runMatrix calls every endpoint as each of actors and checks the answers
// against the matrix and the hand-written expectations hand.
func runMatrix(t *testing.T, f *rbacFixture, actors []*actor, hand map[string]int) {
	// Every endpoint of the OpenAPI document is classified, and every
	// classification names an endpoint that exists.
	// The document the running server serves: every route it registered.
	code, doc := doKey(t, f.s.URL, f.owner.key, rcall{"GET", "/v1/openapi.json", nil})
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string            `json:"operationId"`
			Security    *[]map[string]any `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(doc), &spec); err != nil || code != http.StatusOK {
		t.Fatalf("openapi: %d %v", code, err)
	}
	opIDs := map[string]bool{}
	for _, item := range spec.Paths {
		for _, o := range item {
			if publicOps[o.OperationID] {
				if o.Security == nil || len(*o.Security) != 0 {
					t.Errorf("%s is classified public but the document requires authentication", o.OperationID)
				}
				continue
			}
			opIDs[o.OperationID] = true
		}
	}
	for id := range opIDs {
		if _, ok := restCases[id]; !ok {
			t.Errorf("endpoint %s is not classified in restCases: add it with its rbac.Op", id)
		}
	}
	for id, c := range restCases {
		if !opIDs[id] {
			t.Errorf("restCases names %s, which the API no longer has", id)
		}
		if _, ok := rbac.Lookup(c.op); !ok && c.op != anyPrincipal {
			t.Errorf("%s: %s has no row in the matrix", id, c.op)
		}
	}

	type result struct{ got, want int }
	results := map[string]result{} // "role endpoint [target]" -> answer
	check := func(name string, c restCase) {
		targets := c.targets
		if targets == nil {
			targets = []target{noRecord}
		}
		for _, who := range actors {
			for _, tg := range targets {
				if tg == ownShared && !c.keyRecord && who.role == engram.RoleReader {
					continue // a reader writes no memories of its own
				}
				cl := c.build(f, who, tg)
				want := expected(who, c.op, recordOf(f, who, tg, c.keyRecord), c.keyRecord)
				code, body := doKey(t, f.s.URL, who.key, cl)
				key := strings.TrimSpace(fmt.Sprintf("%s %s %s", who.role, name, tg))
				got := class(code)
				if c.alsoAllowed != 0 && code == c.alsoAllowed {
					got = http.StatusOK
				}
				results[key] = result{got, want}
				if got != want {
					t.Errorf("%s: %s %s answered %d, want %d (%s): %s", key, cl.method, cl.path, code, want, c.op, body)
				}
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range restCases {
			if !slices.Contains(sessionLast, k) && !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		check(name, restCases[name])
	}
	for name, c := range mem0Cases {
		check(name, c)
	}
	for _, name := range sessionLast {
		check(name, restCases[name])
	}

	// Hand-written expectations, so the derived table cannot be vacuous
	// (a matrix that allowed or refused everything would fail here).
	for key, want := range hand {
		r, ok := results[key]
		if !ok {
			t.Errorf("no result for %q", key)
			continue
		}
		if r.want != want || r.got != want {
			t.Errorf("%s: derived %d, answered %d, hand-written %d", key, r.want, r.got, want)
		}
	}
}

// TestCrossTenantRecords: another tenant's owner, holding every scope,
// gets not_found for this tenant's record ids on every per-record route.
func TestCrossTenantRecords(t *testing.T) {
	f, _ := newRBACFixture(t)
	other, err := f.s.Engine.CreateTenant(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	mem := f.memory(f.owner, false)
	_, ent := f.entity()
	fact := f.fact()
	hold := f.hold()
	key := f.keyOf(f.owner, ownShared)
	for _, c := range []rcall{
		{"GET", "/v1/memories/" + mem, nil},
		{"GET", "/v1/memories/" + mem + "/history", nil},
		{"PUT", "/v1/memories/" + mem, map[string]any{"content": "x"}},
		{"DELETE", "/v1/memories/" + mem, nil},
		{"GET", "/v1/memories/" + mem + "/", nil},
		{"GET", "/v1/entities/" + ent, nil},
		{"DELETE", "/v1/entities/" + ent, nil},
		{"GET", "/v1/facts/" + fact, nil},
		{"DELETE", "/v1/facts/" + fact, nil},
		{"GET", "/v1/episodes/" + f.episode, nil},
		{"DELETE", "/v1/audit/holds/" + hold, nil},
		{"DELETE", "/v1/keys/" + key, nil},
	} {
		if code, body := doKey(t, f.s.URL, other.Key.Secret, c); code != http.StatusNotFound {
			t.Errorf("another tenant's %s %s: %d %s, want 404", c.method, c.path, code, body)
		}
	}
	// And the records are still there for their own tenant.
	if code, _ := doKey(t, f.s.URL, f.owner.key, rcall{"GET", "/v1/memories/" + mem, nil}); code != http.StatusOK {
		t.Errorf("own tenant's get after the other's attempts: %d", code)
	}
}

// TestVisibilityREST: the visibility field over REST and the Go client:
// private on create, returned with the author in the memory JSON, changed
// by the author on update, an unknown value a 400 problem with code
// invalid; mem0's list and search leave another member's private memory
// out.
func TestVisibilityREST(t *testing.T) {
	f, actors := newRBACFixture(t)
	ctx := context.Background()
	alice := f.s.Client(f.carol.key)
	rs, err := alice.Add(ctx, client.AddRequest{Content: "the heron nests by the mill", UserID: "u1", Visibility: engram.VisibilityPrivate})
	if err != nil {
		t.Fatal(err)
	}
	id := rs[0].ID
	m, err := alice.Get(ctx, id)
	if err != nil || m.Visibility != engram.VisibilityPrivate || m.AuthorID != f.carol.id {
		t.Fatalf("get: %+v %v", m, err)
	}
	code, body := doKey(t, f.s.URL, f.carol.key, rcall{"POST", "/v1/memories", map[string]any{"content": "x", "visibility": "secret"}})
	if code != http.StatusBadRequest && code != http.StatusUnprocessableEntity || !strings.Contains(body, `"code":"invalid"`) {
		t.Errorf("visibility secret: %d %s", code, body)
	}
	// Another member sees nothing of it through mem0's list and search;
	// its author does.
	bob := actors[slices.IndexFunc(actors, func(a *actor) bool { return a.role == engram.RoleMember })]
	for _, c := range []struct {
		key  string
		sees bool
	}{{bob.key, false}, {f.carol.key, true}} {
		for _, cl := range []rcall{
			{"POST", "/v3/memories/", map[string]any{"filters": map[string]any{"user_id": "u1"}}},
			{"POST", "/v3/memories/search/", map[string]any{"query": "heron nests mill", "filters": map[string]any{"user_id": "u1"}, "threshold": 0}},
		} {
			code, body := doKey(t, f.s.URL, c.key, cl)
			if code != http.StatusOK || strings.Contains(body, id) != c.sees {
				t.Errorf("%s %s: %d, holds the private memory %v, want %v: %s", cl.method, cl.path, code, strings.Contains(body, id), c.sees, body)
			}
		}
	}
	// The author makes it shared through the Go client.
	m, err = alice.UpdateMemory(ctx, id, engram.UpdateRequest{Content: "the heron nests by the mill", Visibility: engram.VisibilityShared})
	if err != nil || m.Visibility != engram.VisibilityShared {
		t.Fatalf("update visibility: %+v %v", m, err)
	}
	if code, _ := doKey(t, f.s.URL, bob.key, rcall{"GET", "/v1/memories/" + id, nil}); code != http.StatusOK {
		t.Errorf("shared now, another member's get: %d", code)
	}
}
