package engine

import "context"

// VectorRecall embeds queries as searches do and measures, in the
// tenant's loaded vector index, the recall@k of its search against an
// exact scan, for each k (unfiltered; 1 while the index is exact). It
// returns nil when semantic search is off or the index is not loaded.
// Benchmarks use it to report what real questions get from the
// approximate index; it returns nothing about the memories themselves.
func (e *Engine) VectorRecall(ctx context.Context, tenantID string, queries []string, ks ...int) ([]float64, error) {
	if e.vec == nil {
		return nil, nil
	}
	idx, ok := e.vec.mgr.Get(tenantID)
	if !ok {
		return nil, nil
	}
	qs, err := e.embedTexts(ctx, queries)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ks))
	for i, k := range ks {
		out[i] = idx.Recall(qs, k)
	}
	return out, nil
}
