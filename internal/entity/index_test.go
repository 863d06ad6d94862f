package entity_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/entity"
)

func ids(es []entity.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestIndex(t *testing.T) {
	x := entity.NewIndex()
	x.Add(entity.Entity{ID: "b", Name: "Alice Smith", Type: entity.Person})
	x.Add(entity.Entity{ID: "a", Name: "Alice Jones", Type: entity.Person})
	x.Add(entity.Entity{ID: "c", Name: "Bob", Type: entity.Person})
	if got := ids(x.Candidates(entity.Mention{Name: "Alice"})); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("candidates of Alice = %v, want [a b]", got)
	}
	if got := ids(x.Candidates(entity.Mention{Name: "Carol"})); len(got) != 0 {
		t.Fatalf("candidates of Carol = %v, want none", got)
	}

	// Re-adding an entity replaces it: its old keys go.
	x.Add(entity.Entity{ID: "c", Name: "Robert", Aliases: []string{"Bobby"}, Type: entity.Person})
	if got := ids(x.Candidates(entity.Mention{Name: "Bob"})); len(got) != 0 {
		t.Fatalf("a replaced name still finds %v", got)
	}
	if d := x.Resolve(entity.Mention{Name: "bobby", Type: entity.Person}); d.Outcome != entity.Match || d.ID != "c" {
		t.Fatalf("alias: %+v", d)
	}
	if x.Len() != 3 {
		t.Fatalf("Len = %d, want 3", x.Len())
	}

	x.Remove("b")
	x.Remove("nope")
	if got := ids(x.Candidates(entity.Mention{Name: "Alice Smith"})); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Remove: %v", got)
	}

	// Candidates are copies: changing one does not change the index.
	c := x.Candidates(entity.Mention{Name: "Robert"})
	c[0].Aliases[0] = "changed"
	if d := x.Resolve(entity.Mention{Name: "Bobby"}); d.Outcome != entity.Match {
		t.Fatal("a caller's change to a candidate reached the index")
	}
}

// TestIndexFindsTypos measures how often the index's keys find the stored
// name for a one-letter slip inside a word (every inner deletion and every
// inner transposition of a list of names), compared with the rules deciding
// on the pair directly. Single-word names rely on LSH bands alone.
func TestIndexFindsTypos(t *testing.T) {
	names := []string{"Anthropic", "Microsoft", "Philadelphia", "Massachusetts", "Jonathan Smith",
		"Elizabeth Warren", "Kindle Paperwhite", "Copenhagen", "Wellington", "Barcelona", "Margarethe",
		"Valentina Rossi", "Bartholomew", "Greenwood Library", "Nightingale", "Schwarzenegger"}
	var variants, found, direct int
	for _, name := range names {
		x := entity.NewIndex()
		stored := entity.Entity{ID: "s", Name: name, Type: entity.Other}
		x.Add(stored)
		r := []rune(name)
		var typos []string
		for i := 1; i < len(r)-1; i++ {
			if r[i-1] != ' ' && r[i+1] != ' ' && r[i] != ' ' {
				typos = append(typos, string(r[:i])+string(r[i+1:])) // deletion
			}
			if i+2 < len(r) && r[i] != ' ' && r[i+1] != ' ' && r[i+2] != ' ' && r[i] != r[i+1] {
				typos = append(typos, string(r[:i])+string(r[i+1])+string(r[i])+string(r[i+2:])) // transposition
			}
		}
		for _, typo := range typos {
			m := entity.Mention{Name: typo, Type: entity.Other}
			d := entity.Resolve(m, []entity.Entity{stored})
			if d.Outcome == entity.New {
				continue
			}
			variants++
			if d.Outcome == entity.Match {
				direct++
			}
			if got := x.Resolve(m); got.Outcome == d.Outcome {
				found++
			} else {
				t.Logf("index lost %q for %q", strings.ToLower(typo), name)
			}
		}
	}
	t.Logf("inner one-letter slips: %d related by the rules (%d matches), %d found through the index (%.3f)",
		variants, direct, found, float64(found)/float64(max(variants, 1)))
	if variants < 100 || found != variants {
		t.Fatalf("index found %d of %d", found, variants)
	}
}

func TestKeys(t *testing.T) {
	if k := entity.Keys("..."); k != nil {
		t.Fatalf("Keys of a name with no words = %v", k)
	}
	k := entity.Keys("Dr. José García")
	for _, want := range []string{"x:dr josé garcía", "x:josé garcía", "f:jose garcia", "w:josé", "w:garcía", "w:dr"} {
		if !slices.Contains(k, want) {
			t.Errorf("Keys lacks %q: %v", want, k)
		}
	}
	if !slices.IsSorted(k) || len(slices.Compact(slices.Clone(k))) != len(k) {
		t.Errorf("keys not sorted and distinct: %v", k)
	}
	bands := 0
	for _, key := range entity.Keys("José García") {
		if strings.HasPrefix(key, "b") {
			bands++
		}
	}
	if bands != entity.Bands {
		t.Errorf("%d band keys, want %d", bands, entity.Bands)
	}
	for _, want := range []string{"d:garcía", "d:gacía", "d:garía"} {
		if !slices.Contains(k, want) {
			t.Errorf("Keys lacks the deletion key %q", want)
		}
	}
	for _, key := range entity.Keys("AAA") {
		if strings.HasPrefix(key, "b") {
			t.Errorf("a name below the entropy gate has band key %q", key)
		}
	}
	if got := entity.ExactKey("The Beatles'"); got != "x:beatles" {
		t.Errorf("ExactKey = %q", got)
	}
	if got := entity.ExactKey(" "); got != "" {
		t.Errorf("ExactKey of nothing = %q", got)
	}
	e := entity.Entity{Name: "Robert", Aliases: []string{"Bobby", "bobby"}}
	if got := entity.EntityKeys(e); !slices.Contains(got, "x:robert") || !slices.Contains(got, "x:bobby") {
		t.Errorf("EntityKeys = %v", got)
	}
}

// TestBandKeysGolden pins the band keys of one name. A store holds band keys
// (blinded) for every entity; if the seeds, the hash or the banding change,
// every stored key silently stops matching. Changing them needs a reindex,
// and this test is where that is noticed.
func TestBandKeysGolden(t *testing.T) {
	var bands []string
	for _, k := range entity.Keys("Jonathan Smith") {
		if strings.HasPrefix(k, "b") {
			bands = append(bands, k)
		}
	}
	want := strings.Fields(goldenBands)
	if !slices.Equal(bands, want) {
		t.Fatalf("band keys of %q changed:\n%s", "Jonathan Smith", strings.Join(bands, "\n"))
	}
}

const goldenBands = `
ba:704cccf3e63b52a0 bb:e05528a20a41fe39 bc:1b5d2b74a1e2d18d bd:cf23abc0c9c77c98
be:63ba2fe172bd9fe4 bf:b1bfd2de09792a3b bg:57253c0116512df0 bh:707a9bd3ddc4ecd4
bi:e59e83507fbe6a9f bj:2b9b50bdce9f2592 bk:23376aa35232140a bl:5a23157980e37d36
bm:dd60e81fdfbae63a bn:ae3125a5afd79d91 bo:2ed49b805b24bbdf bp:a951ff504aabbf3b
`

// TestIndexConcurrent runs writers and readers together; -race checks the
// locking.
func TestIndexConcurrent(t *testing.T) {
	x := entity.NewIndex()
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 12 {
				id := string(rune('a'+w)) + string(rune('a'+i%26))
				x.Add(entity.Entity{ID: id, Name: "Jonathan Smith", Type: entity.Person})
				_ = x.Resolve(entity.Mention{Name: "Jonathon Smith", Type: entity.Person})
				if i%3 == 0 {
					x.Remove(id)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	if x.Len() == 0 {
		t.Fatal("no entity left")
	}
}
