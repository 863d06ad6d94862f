package rbac_test

import (
	"reflect"
	"testing"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/rbac"
)

// engineOps classifies every exported method of *engine.Engine: the
// operation a principal's call is authorised as, or operatorOnly for what
// runs without a principal (the operator's CLI, start-up, background
// loops, metrics). When the engine gains a method this test fails until
// it is classified here, so the matrix keeps covering "every operation
// Engram has". It is also the wiring step's map from method to Op.
const operatorOnly rbac.Op = ""

// byProof marks what runs without a principal because the request carries
// its own proof: a password, a refresh token, a one-time link.
const byProof rbac.Op = "proof"

var engineOps = map[string]rbac.Op{
	// Memories (MemoryService, ScopeService).
	"Add": rbac.MemoryCreate, "Get": rbac.MemoryRead, "List": rbac.MemoryRead, "Search": rbac.MemoryRead,
	"History": rbac.MemoryRead, "Update": rbac.MemoryUpdate, "Delete": rbac.MemoryDelete,
	"DeleteAll": rbac.MemoryDeleteAll, "Entities": rbac.ScopeList,
	// Observe and the graph.
	"Observe": rbac.Observe, "Episode": rbac.GraphRead, "Episodes": rbac.GraphRead,
	"ListEntities": rbac.GraphRead, "GetEntity": rbac.GraphRead, "Facts": rbac.GraphRead, "GetFact": rbac.GraphRead,
	"SearchFacts": rbac.GraphRead, "Topics": rbac.GraphRead, "Patterns": rbac.GraphRead,
	"ReadGraph": rbac.GraphRead, "SearchNodes": rbac.GraphRead, "OpenNodes": rbac.GraphRead,
	"AddFact": rbac.GraphWrite, "CreateEntities": rbac.GraphWrite, "CreateRelations": rbac.GraphWrite,
	"AddObservations": rbac.GraphWrite,
	"DeleteFact":      rbac.GraphDelete, "DeleteEntities": rbac.GraphDelete, "DeleteRelations": rbac.GraphDelete,
	"DeleteObservations": rbac.GraphDelete,
	"MergeEntities":      rbac.EntityMerge, "ForgetEntity": rbac.EntityForget,
	// Keys.
	"CreateKey": rbac.KeyCreate, "ListKeys": rbac.KeyList, "RevokeKey": rbac.KeyRevoke,
	// Audit.
	"ListAudit": rbac.AuditRead, "AuditCheckpoint": rbac.AuditRead, "AuditInclusion": rbac.AuditRead,
	"AuditConsistency": rbac.AuditRead, "AuditSegments": rbac.AuditRead, "AuditSegmentBundle": rbac.AuditRead,
	"AuditKeys": rbac.AuditRead, "ListAuditHolds": rbac.AuditRead, "VerifyTenantAudit": rbac.AuditRead,
	"CreateAuditHold": rbac.AuditHold, "ReleaseAuditHold": rbac.AuditHold,
	"SetAuditRetention": rbac.AuditRetention, // the operator's CLI today
	// Privacy and the tenant.
	"ForgetUser": rbac.UserForget, "RotateKeys": rbac.TenantRotate,
	"ExportTenant": rbac.TenantExport, "ExportUser": rbac.UserExport, "ExportMine": rbac.Profile, "Import": rbac.TenantImport, "ImportInto": rbac.TenantImport,
	"ExportKey":             rbac.ExportKeys,
	"SetDiscardEpisodeText": rbac.TenantSettings, "SetTenantKEK": rbac.TenantSettings, // CLI today
	"SetRetentionPlan": rbac.TenantSettings, // CLI today (docs/LIFECYCLE.md, "Retention")
	"ForgetTenant":     rbac.TenantDelete,   // CLI today
	// Deletion with a grace period (docs/LIFECYCLE.md, "Deletion").
	"DeleteMe": rbac.Profile, "CancelMyDeletion": rbac.Profile,
	"ScheduleUserDeletion": rbac.UserForget, "CancelUserDeletion": rbac.UserForget, "ListDeletions": rbac.UserForget,
	"DeletionsOf": operatorOnly, "SweepDeletions": operatorOnly, "DeletionsDone": operatorOnly, "DeletionsHeld": operatorOnly,
	// Single sign-on: the configuration; the sign-in steps run before
	// there is a principal (the IdP's verified identity is the proof).
	"ConfigureSSO": rbac.SSOConfigure, "DeleteSSO": rbac.SSOConfigure, "SSOConfiguration": rbac.SSORead,
	"BeginSSO": operatorOnly, "FinishOIDC": operatorOnly, "FinishSAML": operatorOnly, "SAMLMetadata": operatorOnly,

	// People (identity).
	"Members": rbac.MemberList, "Invite": rbac.MemberInvite, "ChangeRole": rbac.MemberRoleChange,
	"RemoveMember": rbac.MemberRemove, "TransferOwnership": rbac.OwnershipTransfer,
	"LogoutEverywhere": rbac.SessionRevoke, "Sessions": rbac.SessionRevoke, "Logout": rbac.SessionRevoke,
	"Me": rbac.Profile, "ChangePassword": rbac.Profile, "UpdateProfile": rbac.Profile,
	"RequestVerification": rbac.Profile, "VerifyEmail": byProof,
	"Login": byProof, "Refresh": byProof, "AcceptInvitation": byProof, "RequestPasswordReset": byProof,
	"ResetPassword": byProof,

	// No principal: the operator, start-up, background work, metrics.
	"Authenticate": operatorOnly, "FlushAuthFailures": operatorOnly, "RunAuthFailureFlush": operatorOnly,
	"CreateTenant": operatorOnly, "TenantByName": operatorOnly, "Tenants": operatorOnly, "MintOwnerKey": operatorOnly,
	"RotateTenant": operatorOnly, "Reencrypt": operatorOnly, "Pending": operatorOnly, "Repair": operatorOnly,
	"Start": operatorOnly, "StartExtraction": operatorOnly, "Maintain": operatorOnly, "RunMaintenance": operatorOnly, "Leading": operatorOnly,
	"AuditBackfilled": operatorOnly, "AuditPending": operatorOnly, "AuditBundle": operatorOnly,
	"AuditVerifierKey": operatorOnly, "AuditVerifierKeys": operatorOnly, "KeptCheckpoint": operatorOnly,
	"BackfillAudit": operatorOnly, "RunAuditBackfill": operatorOnly, "RunAuditSealer": operatorOnly,
	"SealAudit": operatorOnly, "SweepAudit": operatorOnly, "VerifyAudit": operatorOnly, "VerifyAuditTrail": operatorOnly,
	"RotateCheckpointKey": operatorOnly, "Unreadable": operatorOnly, "VectorIndexStats": operatorOnly,
	"InviteAsOperator": operatorOnly, "SweepSessions": operatorOnly,
	"SweepRetention": operatorOnly, "RecordNode": operatorOnly, "DrainBackground": operatorOnly, "SaveIndexSnapshots": operatorOnly, "WatchChanges": operatorOnly, "VectorRecall": operatorOnly, "RetentionSwept": operatorOnly, "RetentionPlan": operatorOnly,
	// The OAuth authorization server for MCP hosts: registering and reading
	// a request grant nothing; consent carries the member's password, the
	// token endpoint a code with its verifier or a refresh token.
	"RegisterOAuthClient": operatorOnly, "OAuthAuthorization": operatorOnly, "ApproveOAuth": byProof,
	"OAuthToken": byProof,
	// The consent of a person signed in: the session cookie is the proof
	// (the engine authenticates it); the form key is the operator's.
	"ApproveOAuthSession": byProof, "OAuthSignedIn": byProof, "OAuthFormKey": operatorOnly,
}

func TestEveryEngineMethodClassified(t *testing.T) {
	typ := reflect.TypeFor[*engine.Engine]()
	methods := map[string]bool{}
	for m := range typ.Methods() {
		methods[m.Name] = true
		op, ok := engineOps[m.Name]
		if !ok {
			t.Errorf("engine.%s is not classified: add it to engineOps with its rbac.Op (or operatorOnly)", m.Name)
			continue
		}
		if op != operatorOnly && op != byProof {
			if _, ok := rbac.Lookup(op); !ok {
				t.Errorf("engine.%s maps to %s, which has no row", m.Name, op)
			}
		}
	}
	for name := range engineOps {
		if !methods[name] {
			t.Errorf("engineOps names engine.%s, which no longer exists", name)
		}
	}
}
