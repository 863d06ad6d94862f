package rbac

import "github.com/engram-memory/engram"

// Roles, strongest first: the matrix's columns.
var Roles = []engram.Role{engram.RoleOwner, engram.RoleAdmin, engram.RoleOperator, engram.RoleMember, engram.RoleReader}

func row(op Op, area string, scope engram.Permission, owner, admin, operator, member, reader Reach, note string) Rule {
	return Rule{Op: op, Area: area, Scope: scope, Note: note, Reach: map[engram.Role]Reach{
		engram.RoleOwner: owner, engram.RoleAdmin: admin, engram.RoleOperator: operator,
		engram.RoleMember: member, engram.RoleReader: reader,
	}}
}

func ownBySession(r Rule) Rule { r.OwnBySession = true; return r }

// Matrix is the proposal, one row per operation, in the order the doc
// shows it. Reaches never grow from a stronger role to a weaker one
// (TestMonotonic).
var Matrix = []Rule{
	row(MemoryCreate, "memories", engram.PermMemoriesWrite, Own, Own, Own, Own, No,
		"the caller is the author; visibility shared (default) or private"),
	row(MemoryRead, "memories", engram.PermMemoriesRead, Any, Shared, Shared, Shared, Shared,
		"get, list, search, history; lists and searches filter to what may be read"),
	row(MemoryUpdate, "memories", engram.PermMemoriesWrite, Any, Shared, Shared, Own, No, ""),
	row(MemoryDelete, "memories", engram.PermMemoriesWrite, Any, Shared, Shared, Own, No, ""),
	row(MemoryDeleteAll, "memories", engram.PermMemoriesWrite, Any, Shared, Shared, Own, No,
		"by user/agent/run; deletes only what the caller could delete one by one"),
	row(ScopeList, "memories", engram.PermMemoriesRead, Any, Shared, Shared, Shared, Shared,
		"counts only memories the caller may read"),

	row(Observe, "graph", engram.PermMemoriesWrite, Any, Any, Any, Any, No,
		"writes shared memories, entities and facts"),
	row(GraphRead, "graph", engram.PermMemoriesRead, Any, Any, Any, Any, Any,
		"episodes, entities, facts, topics, patterns"),
	row(GraphWrite, "graph", engram.PermMemoriesWrite, Any, Any, Any, Any, No,
		"add facts, entities, relations, observations"),
	row(GraphDelete, "graph", engram.PermMemoriesWrite, Any, Any, Any, No, No,
		"members add to the shared graph; taking out of it is for operators and up"),
	row(EntityMerge, "graph", engram.PermMemoriesWrite, Any, Any, Any, No, No, ""),
	row(EntityForget, "graph", engram.PermMemoriesWrite, Any, Any, Any, No, No,
		"destroys the entity's key"),

	ownBySession(row(KeyCreate, "keys", engram.PermKeysAdmin, Own, Own, Own, Own, Own,
		"keys belong to their creator; scopes never exceed the creator's role")),
	ownBySession(row(KeyList, "keys", engram.PermKeysAdmin, Any, Any, Own, Own, Own, "")),
	ownBySession(row(KeyRevoke, "keys", engram.PermKeysAdmin, Any, Any, Own, Own, Own, "")),

	row(AuditRead, "audit", engram.PermAuditRead, Any, Any, No, No, No,
		"entries, checkpoint, proofs, segments, audit keys, holds"),
	row(AuditHold, "audit", engram.PermAuditHold, Any, Any, No, No, No, "place and release legal holds"),
	row(AuditRetention, "audit", PermTenantAdmin, Any, No, No, No, No,
		"shortening retention destroys evidence"),

	row(UserForget, "tenant", engram.PermUsersForget, Any, Any, No, No, No, "GDPR erasure of an end user"),
	row(TenantRotate, "tenant", engram.PermKeysAdmin, Any, No, No, No, No, "rotate the tenant's keys"),
	row(TenantExport, "tenant", PermTenantAdmin, Any, No, No, No, No, "includes private memories"),
	row(TenantImport, "tenant", PermTenantAdmin, Any, No, No, No, No,
		"writes any user's records, as any author: a tenant administrator's act"),
	row(UserExport, "tenant", engram.PermUsersForget, Any, Any, No, No, No,
		"an end user's data, private memories included (right of access): whoever may erase a user"),
	row(ExportKeys, "tenant", engram.PermMemoriesRead, Any, Any, Any, Any, Any,
		"the public key that signs the tenant's exports"),
	row(TenantSettings, "tenant", PermTenantAdmin, Any, No, No, No, No, "plan, episode text, BYOK"),
	row(TenantDelete, "tenant", SessionOnly, Any, No, No, No, No, "erases the whole tenant"),

	row(MemberList, "members", PermMembersRead, Any, Any, Any, Any, Any, "names, emails, roles"),
	row(MemberInvite, "members", PermMembersAdmin, Any, Any, No, No, No,
		"with a role at most the inviter's; only an owner invites an owner; also lists and withdraws invitations"),
	row(MemberRoleChange, "members", PermMembersAdmin, Any, Any, No, No, No,
		"of members at most the actor's role, to at most the actor's role; only an owner grants owner; not the last owner"),
	row(MemberRemove, "members", PermMembersAdmin, Any, Any, No, No, No,
		"of members at most the actor's role; not the last owner; revokes their sessions and keys at once"),
	row(MemberLeave, "members", SessionOnly, Own, Own, Own, Own, Own, "not the last owner"),
	row(OwnershipTransfer, "members", SessionOnly, Any, No, No, No, No,
		"the new owner becomes owner, the old one admin"),
	ownBySession(row(SessionRevoke, "members", PermMembersAdmin, Any, Any, Own, Own, Own,
		"logout, logout everywhere; admins end other members' sessions")),
	row(SSORead, "sso", PermSSOAdmin, Any, Any, No, No, No, "secrets redacted"),
	row(SSOConfigure, "sso", SessionOnly, Any, No, No, No, No,
		"OIDC, SAML, group mapping, SSO-only enforcement"),
	row(Profile, "account", SessionOnly, Own, Own, Own, Own, Own,
		"GET /v1/me also answers a key; password, email, own export and deletion need a session"),
}

var byOp = func() map[Op]Rule {
	m := map[Op]Rule{}
	for _, r := range Matrix {
		m[r.Op] = r
	}
	return m
}()

// Lookup returns the rule of op.
func Lookup(op Op) (Rule, bool) {
	r, ok := byOp[op]
	return r, ok
}

// ReachOf is the reach role has for op: No for an unknown role or op.
func ReachOf(role engram.Role, op Op) Reach {
	return byOp[op].Reach[role]
}

// RolePermissions is what an API key of an account with role may hold:
// the scope of every operation the role may do with a key. It extends
// engram.Role.Permissions with the proposed scopes (TestRootAgrees).
func RolePermissions(role engram.Role) []engram.Permission {
	seen := map[engram.Permission]bool{}
	var out []engram.Permission
	for _, r := range Matrix {
		reach := r.Reach[role]
		if reach == No || r.Scope == SessionOnly || (reach == Own && r.OwnBySession) || seen[r.Scope] {
			continue
		}
		seen[r.Scope] = true
		out = append(out, r.Scope)
	}
	return out
}
