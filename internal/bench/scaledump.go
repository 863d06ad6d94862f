package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DumpRecord is one line of a corpus dump: a memory Scale writes (ID, User
// and Text; Warmup unset) in corpus.jsonl, or a query it asks (Text, User
// and Warmup; no ID) in queries.jsonl.
type DumpRecord struct {
	ID     string    `json:"id,omitempty"`
	User   string    `json:"user"`
	Text   string    `json:"text"`
	Vector []float32 `json:"vector"`
	// Warmup marks the queries Scale asks before timing (the first 5).
	Warmup bool `json:"warmup,omitempty"`
}

// Corpus dump file names in DumpCorpus's directory.
const (
	DumpCorpusFile  = "corpus.jsonl"
	DumpQueriesFile = "queries.jsonl"
)

// DumpCorpus writes, into dir, the memories and queries Scale would write
// and ask for opts (opts.N memories, 5 warm-up and opts.Searches timed
// queries), each with embed's vector of its text alone, so that another
// store can be measured on the same corpus (bench/peers). Scale searches
// the whole tenant; a query's User (one of Scale's 50 in turn) is for a
// peer's scoped variant. The vectors are plaintext, derived from the
// benchmark's own text; Engram indexes contextual vectors (the previous
// turns' text with each memory's, docs/ARCHITECTURE.md), so a memory's
// vector here is not the one Engram stores for it.
func DumpCorpus(ctx context.Context, dir string, opts ScaleOptions, embed func(context.Context, []string) ([][]float32, error)) error {
	if opts.N < 1 || opts.Searches < 1 {
		return errors.New("dump: need at least one memory and one search")
	}
	if len(opts.Texts) > 0 && len(opts.Queries) == 0 {
		return errors.New("dump: texts given without queries")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := newScaleCorpus(opts)
	// Memories first: synthetic queries are drawn after them.
	if err := dumpLines(ctx, filepath.Join(dir, DumpCorpusFile), opts.N, func(i int) DumpRecord {
		return DumpRecord{ID: fmt.Sprintf("m%d", i), User: scaleUser(i), Text: c.text(i)}
	}, embed, opts.Progress); err != nil {
		return err
	}
	return dumpLines(ctx, filepath.Join(dir, DumpQueriesFile), 5+opts.Searches, func(i int) DumpRecord {
		return DumpRecord{User: fmt.Sprintf("u%d", i%50), Text: c.query(i), Warmup: i < 5}
	}, embed, nil)
}

// dumpLines writes n records, embedded scaleBatch at a time, to path.
func dumpLines(ctx context.Context, path string, n int, rec func(i int) DumpRecord, embed func(context.Context, []string) ([][]float32, error), progress func(int)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for done := 0; done < n; {
		batch := make([]DumpRecord, min(scaleBatch, n-done))
		texts := make([]string, len(batch))
		for i := range batch {
			batch[i] = rec(done + i)
			texts[i] = batch[i].Text
		}
		vs, err := embed(ctx, texts)
		if err == nil && len(vs) != len(texts) {
			err = fmt.Errorf("dump: %d vectors for %d texts", len(vs), len(texts))
		}
		if err != nil {
			f.Close()
			return err
		}
		for i := range batch {
			batch[i].Vector = vs[i]
			if err := enc.Encode(batch[i]); err != nil {
				f.Close()
				return err
			}
		}
		done += len(batch)
		if progress != nil {
			progress(done)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
