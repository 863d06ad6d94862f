package rbac

import "github.com/engram-memory/engram"

// Op is one operation, as the engine authorises it. Several endpoints and
// tools may share an Op (every way of reading memories is MemoryRead).
type Op string

// Operations, by area. Each names what Engram does today or what issue 13
// adds (members, sessions, SSO).
const (
	// Memories: REST /v1/memories…, /v1/search, mem0's /v1/memories and
	// /v3/memories…, MCP add/get/list/update/delete/search/history.
	MemoryCreate    Op = "memory.create"
	MemoryRead      Op = "memory.read" // get, list, search, history
	MemoryUpdate    Op = "memory.update"
	MemoryDelete    Op = "memory.delete"
	MemoryDeleteAll Op = "memory.delete_all" // by user/agent/run scope
	ScopeList       Op = "scope.list"        // mem0's /v1/entities/

	// Observe and the knowledge graph: /v1/observe, /v1/episodes,
	// /v1/entities, /v1/facts, topics, patterns, the MCP memory-server
	// tools.
	Observe      Op = "observe"
	GraphRead    Op = "graph.read" // episodes, entities, facts, topics, patterns
	GraphWrite   Op = "graph.write"
	GraphDelete  Op = "graph.delete"
	EntityMerge  Op = "entity.merge"
	EntityForget Op = "entity.forget" // crypto-shreds the entity key

	// API keys: /v1/keys.
	KeyCreate Op = "key.create"
	KeyList   Op = "key.list"
	KeyRevoke Op = "key.revoke"

	// Audit: /v1/audit…, holds, retention.
	AuditRead      Op = "audit.read" // entries, checkpoint, proofs, segments, keys, holds list
	AuditHold      Op = "audit.hold" // place and release legal holds
	AuditRetention Op = "audit.retention"

	// Privacy and the tenant.
	UserForget     Op = "user.forget" // DELETE /v1/users/{id}
	TenantRotate   Op = "tenant.rotate_keys"
	TenantExport   Op = "tenant.export"
	TenantImport   Op = "tenant.import" // POST /v1/import
	UserExport     Op = "user.export"   // GET /v1/users/{id}/export
	ExportKeys     Op = "export.keys"   // GET /v1/export/keys: public keys only
	TenantSettings Op = "tenant.settings"
	TenantDelete   Op = "tenant.delete"

	// Members and identity (issue 13).
	MemberList        Op = "member.list"
	MemberInvite      Op = "member.invite"
	MemberRoleChange  Op = "member.role_change"
	MemberRemove      Op = "member.remove" // removing someone else; leaving is MemberLeave
	MemberLeave       Op = "member.leave"
	OwnershipTransfer Op = "ownership.transfer"
	SessionRevoke     Op = "session.revoke" // logout, logout everywhere, another member's
	SSORead           Op = "sso.read"
	SSOConfigure      Op = "sso.configure"
	Profile           Op = "account.profile" // /v1/me, password, own export and deletion
)

// Reach is how far a role's right to an operation extends.
type Reach uint8

// Reaches, weakest first.
const (
	// No: refused (403).
	No Reach = iota
	// Own: only what the account itself authored or owns: its own
	// memories, keys, sessions, membership.
	Own
	// Shared: its own and the tenant's shared records; not other
	// members' private ones.
	Shared
	// Any: everything in the tenant.
	Any
)

func (r Reach) String() string {
	return [...]string{"no", "own", "shared", "any"}[r]
}

// Scopes beyond the first six, named here for the matrix's rows.
const (
	PermMembersRead  = engram.PermMembersRead
	PermMembersAdmin = engram.PermMembersAdmin
	PermTenantAdmin  = engram.PermTenantAdmin
	PermSSOAdmin     = engram.PermSSOAdmin
)

// SessionOnly marks an operation no API key may perform, whatever its
// scopes: it needs a person signed in (a session), because it hands over
// the tenant or changes how people sign in.
const SessionOnly engram.Permission = ""

// Rule is one row of the matrix.
type Rule struct {
	Op    Op
	Area  string
	Reach map[engram.Role]Reach
	// Scope is what an API key must hold (as well as its account's role
	// allowing the operation); SessionOnly when no key may.
	Scope engram.Permission
	// OwnBySession: at reach Own, a session suffices and a key needs
	// Scope. Used for an account's own keys and sessions: a member
	// manages them signed in, but a leaked key cannot mint more keys.
	OwnBySession bool
	Note         string
}
