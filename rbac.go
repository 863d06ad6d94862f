package engram

// Role is an account's place in its tenant. Each role includes the rights of
// the roles below it: owner ⊇ admin ⊇ operator ⊇ member ⊇ reader.
type Role string

// Roles, strongest first.
const (
	RoleOwner    Role = "owner"
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleMember   Role = "member"
	RoleReader   Role = "reader"
)

// rolePermissions is what each role may grant its keys. It is derived
// from internal/rbac's matrix (the one matrix of who may do what;
// TestRootAgrees there holds the two equal): the root package cannot
// import it.
var rolePermissions = map[Role][]Permission{
	RoleOwner: {PermMemoriesRead, PermMemoriesWrite, PermKeysAdmin, PermAuditRead, PermAuditHold, PermTenantAdmin,
		PermUsersForget, PermMembersRead, PermMembersAdmin, PermSSOAdmin},
	RoleAdmin: {PermMemoriesRead, PermMemoriesWrite, PermKeysAdmin, PermAuditRead, PermAuditHold,
		PermUsersForget, PermMembersRead, PermMembersAdmin, PermSSOAdmin},
	RoleOperator: {PermMemoriesRead, PermMemoriesWrite, PermMembersRead},
	RoleMember:   {PermMemoriesRead, PermMemoriesWrite, PermMembersRead},
	RoleReader:   {PermMemoriesRead, PermMembersRead},
}

// Permissions returns what keys of an account with this role may hold.
func (r Role) Permissions() []Permission {
	return append([]Permission(nil), rolePermissions[r]...)
}

// Rank orders roles by strength: owner 5 … reader 1, an unknown role 0.
// It is the one ordering every role rule compares with.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 5
	case RoleAdmin:
		return 4
	case RoleOperator:
		return 3
	case RoleMember:
		return 2
	case RoleReader:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := rolePermissions[r]
	return ok
}
