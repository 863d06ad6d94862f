package postings_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/store"
)

// TestBytesEstimate compares Bytes with the heap actually held, for the
// budget's sake (run with ENGRAM_MEMCHECK=1; it is slow).
func TestBytesEstimate(t *testing.T) {
	if os.Getenv("ENGRAM_MEMCHECK") == "" {
		t.Skip("ENGRAM_MEMCHECK not set")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	x := postings.New()
	for i := range 100000 {
		d := store.DocPostings{MemoryID: fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i), Scope: engram.Scope{UserID: fmt.Sprint("u", i%50)}, DocLen: 20}
		for range 14 {
			tk := make([]byte, fulltext.TokenSize)
			w := int(r.ExpFloat64() * 3000)
			copy(tk, fmt.Sprint(w))
			d.Postings = append(d.Postings, store.Posting{Token: tk, TF: 1})
		}
		x.Put(d)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("estimate %d MB, heap %d MB", x.Bytes()>>20, (ms1.HeapInuse-ms0.HeapInuse)>>20)
	runtime.KeepAlive(x)
}
