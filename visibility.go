package engram

// Visibility says who may read a memory besides the tenant's owners: every
// member (shared, the default) or only its author (private). See
// docs/IDENTITY.md, "RBAC enforcement".
type Visibility string

// Visibilities.
const (
	VisibilityShared  Visibility = "shared"
	VisibilityPrivate Visibility = "private"
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == VisibilityShared || v == VisibilityPrivate }
