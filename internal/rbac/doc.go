// Package rbac is the proposed permission matrix of Engram's teams: what
// each of the five roles (owner, admin, operator, member, reader) may do
// with every operation Engram has, at what reach (their own records, the
// tenant's shared ones, or all), and the rules on roles themselves (the
// last owner, who may grant what, what an API key may hold).
//
// It is data plus small pure functions, so one table drives the engine's
// checks, the tests and docs/IDENTITY.md (rendered by a golden test, so
// the doc cannot drift from the code). It does not replace the root
// package's Role and Permission yet: the wiring step moves callers over.
//
// # The memory model
//
// Every memory has an author (the account whose session or key wrote it)
// and a visibility: shared (the tenant's knowledge; the default, and what
// every memory written before accounts existed is) or private (the
// author's own notes). Reading: reader, member, operator and admin read
// the shared memories and their own; only the owner, who is the data
// controller and can export, rotate and erase the whole tenant anyway,
// reads other members' private memories. Writing: members change and
// delete their own memories; operators (who run the tenant's agents and
// pipelines) and admins also change and delete shared ones; the owner any.
// The knowledge graph (observe, entities, facts) is shared tenant
// knowledge: private memories never feed it.
package rbac
