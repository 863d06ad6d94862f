package mcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/engram-memory/engram"
)

func (in scopeInput) scope() engram.Scope {
	return engram.Scope{UserID: in.UserID, AgentID: in.AgentID, RunID: in.RunID}
}

func toOut(m *engram.Memory) memoryOut {
	out := memoryOut{
		ID: m.ID, Memory: m.Content, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID, Metadata: m.Metadata,
		CreatedAt: timestamp(m.CreatedAt), UpdatedAt: timestamp(m.UpdatedAt), Visibility: string(m.Visibility),
	}
	if m.ExpirationDate != nil {
		out.ExpirationDate = timestamp(*m.ExpirationDate)
	}
	return out
}

func (t *tools) add(ctx context.Context, in addInput) (string, addOutput, error) {
	res, err := t.svc.Add(ctx, engram.AddRequest{Content: in.Content, Scope: in.scope(), Metadata: in.Metadata,
		Visibility: engram.Visibility(in.Visibility), ExpirationDate: in.ExpirationDate})
	if err != nil {
		return "", addOutput{}, err
	}
	out := addOutput{Results: make([]addedOut, 0, len(res))}
	var b strings.Builder
	for _, r := range res {
		out.Results = append(out.Results, addedOut{ID: r.ID, Event: string(r.Event)})
		switch r.Event {
		case engram.EventNone:
			fmt.Fprintf(&b, "Already stored as memory %s (nothing changed).\n", r.ID)
		default:
			fmt.Fprintf(&b, "Stored memory %s.\n", r.ID)
		}
	}
	return b.String(), out, nil
}

func (t *tools) search(ctx context.Context, in searchInput) (string, memoriesOutput, error) {
	hits, err := t.svc.Search(ctx, engram.SearchRequest{Query: in.Query, Scope: in.scope(), Filters: in.Filters, Limit: in.Limit, Threshold: in.Threshold})
	if err != nil {
		return "", memoriesOutput{}, err
	}
	out := memoriesOutput{Notice: notice, Results: make([]memoryOut, 0, len(hits))}
	for i := range hits {
		m := toOut(&hits[i].Memory)
		m.Score = &hits[i].Score
		out.Results = append(out.Results, m)
	}
	return renderMemories(fmt.Sprintf("%d memory(ies) found, best first.", len(hits)), out.Results), out, nil
}

func (t *tools) get(ctx context.Context, in idInput) (string, memoryOutput, error) {
	m, err := t.svc.Get(ctx, in.ID)
	if err != nil {
		return "", memoryOutput{}, err
	}
	out := memoryOutput{Notice: notice, Memory: toOut(m)}
	return renderMemories("Memory "+escape(m.ID)+":", []memoryOut{out.Memory}), out, nil
}

func (t *tools) list(ctx context.Context, in listInput) (string, memoriesOutput, error) {
	res, err := t.svc.List(ctx, engram.ListRequest{Scope: in.scope(), Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return "", memoriesOutput{}, err
	}
	out := memoriesOutput{Notice: notice, Results: make([]memoryOut, 0, len(res.Memories)), NextCursor: res.NextCursor}
	for i := range res.Memories {
		out.Results = append(out.Results, toOut(&res.Memories[i]))
	}
	header := fmt.Sprintf("%d memory(ies), newest first.", len(out.Results))
	if res.NextCursor != "" {
		header += " More: call list_memories with cursor " + escape(res.NextCursor) + "."
	}
	return renderMemories(header, out.Results), out, nil
}

func (t *tools) update(ctx context.Context, in updateInput) (string, memoryOutput, error) {
	m, err := t.svc.Update(ctx, in.ID, engram.UpdateRequest{Content: in.Content})
	if err != nil {
		return "", memoryOutput{}, err
	}
	out := memoryOutput{Notice: notice, Memory: toOut(m)}
	return renderMemories("Updated memory "+escape(m.ID)+":", []memoryOut{out.Memory}), out, nil
}

func (t *tools) delete(ctx context.Context, in idInput) (string, deleteOutput, error) {
	if err := t.svc.Delete(ctx, in.ID); err != nil {
		return "", deleteOutput{}, err
	}
	return "Deleted memory " + escape(in.ID) + ".", deleteOutput{ID: in.ID, Deleted: true}, nil
}

func (t *tools) history(ctx context.Context, in idInput) (string, historyOutput, error) {
	hs, err := t.svc.History(ctx, in.ID)
	if err != nil {
		return "", historyOutput{}, err
	}
	out := historyOutput{Notice: notice, MemoryID: in.ID, Results: make([]historyOut, 0, len(hs))}
	for _, h := range hs {
		out.Results = append(out.Results, historyOut{
			Event: string(h.Event), OldMemory: h.OldMemory, NewMemory: h.NewMemory, CreatedAt: timestamp(h.CreatedAt),
		})
	}
	return renderHistory(in.ID, out.Results), out, nil
}
