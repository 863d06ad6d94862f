package extract_test

import (
	"reflect"
	"sync"
	"testing"

	"github.com/engram-memory/engram/internal/extract"
)

// TestConcurrentExtract runs ExtractConversation from several goroutines at once, as concurrent requests
// will, each over sixteen conversations of the second held-out set in its own order, and checks every result against a sequential
// run. Under -race it also proves the package shares no unsynchronised state (models, parsers, tables).
func TestConcurrentExtract(t *testing.T) {
	var convs [][]extract.Message
	for _, c := range loadCases(t, "testdata/heldout2.json")[:16] {
		convs = append(convs, c.messages())
	}
	want := make([]extract.Result, len(convs))
	for i, c := range convs {
		res, err := extract.ExtractConversation(c)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res
	}
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan string, workers*len(convs))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range convs {
				i := (k + w*len(convs)/workers) % len(convs) // each goroutine starts elsewhere
				if w%2 == 1 {
					i = len(convs) - 1 - i // and every other one runs backwards
				}
				got, err := extract.ExtractConversation(convs[i])
				if err != nil {
					errs <- err.Error()
					continue
				}
				if !reflect.DeepEqual(got, want[i]) {
					errs <- "conversation " + convs[i][len(convs[i])-1].Text + ": result differs from the sequential run"
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
