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

// rolePermissions is the one matrix of what each role may grant its keys.
var rolePermissions = map[Role][]Permission{
	RoleOwner:    {PermMemoriesRead, PermMemoriesWrite, PermKeysAdmin, PermAuditRead, PermAuditHold, PermUsersForget},
	RoleAdmin:    {PermMemoriesRead, PermMemoriesWrite, PermKeysAdmin, PermAuditRead, PermAuditHold, PermUsersForget},
	RoleOperator: {PermMemoriesRead, PermMemoriesWrite},
	RoleMember:   {PermMemoriesRead, PermMemoriesWrite},
	RoleReader:   {PermMemoriesRead},
}

// Permissions returns what keys of an account with this role may hold.
func (r Role) Permissions() []Permission {
	return append([]Permission(nil), rolePermissions[r]...)
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := rolePermissions[r]
	return ok
}
