package bench_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/bench"
)

const faultsFile = "testdata/locomo/faults.json"

func loadFaults(t *testing.T) *bench.Dataset {
	t.Helper()
	ds, err := bench.LoadLoCoMo(faultsFile)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func question(t *testing.T, ds *bench.Dataset, text string) *bench.Question {
	t.Helper()
	for i := range ds.Questions {
		if ds.Questions[i].Question == text {
			return &ds.Questions[i]
		}
	}
	return nil
}

func TestLoadLoCoMoFaults(t *testing.T) {
	ds := loadFaults(t)
	want := bench.Faults{OrphanDateKeys: 2, SplitEvidence: 3, RepairedIDs: 2, DroppedIDs: 3, DuplicateIDs: 1, SkippedQuestions: 2}
	if ds.Faults != want {
		t.Fatalf("faults = %+v\nwant     %+v", ds.Faults, want)
	}
	cases := []struct {
		question string
		evidence []string
	}{
		{"q split semicolon", []string{"D1:1", "D2:1"}},
		{"q split comma", []string{"D1:2", "D2:2"}},
		{"q split spaces", []string{"D2:1", "D2:2", "D10:1"}},
		{"q extra colon", []string{"D10:5"}},
		{"q leading zero", []string{"D10:5"}},
		{"q dropped ids", []string{"D1:1"}},
		{"q duplicate", []string{"D1:1"}},
		{"q adversarial", []string{"D2:2"}},
		{"q numeric answer", []string{"D10:2"}},
	}
	for _, tc := range cases {
		q := question(t, ds, tc.question)
		if q == nil {
			t.Errorf("%q missing", tc.question)
			continue
		}
		if !slices.Equal(q.Evidence, tc.evidence) {
			t.Errorf("%q: evidence %v, want %v", tc.question, q.Evidence, tc.evidence)
		}
	}
	for _, skipped := range []string{"q no evidence", "q nothing left"} {
		if question(t, ds, skipped) != nil {
			t.Errorf("%q kept", skipped)
		}
	}
	if len(ds.Questions) != 10 {
		t.Fatalf("%d questions, want 10", len(ds.Questions))
	}
	if q := question(t, ds, "q numeric answer"); q.Answer != "2022" || q.Category != 2 || q.Kind != "temporal" {
		t.Errorf("numeric answer question: %+v", q)
	}
	if q := question(t, ds, "q adversarial"); q.Answer != "" || q.Kind != "adversarial" {
		t.Errorf("adversarial question: %+v", q)
	}
	if q := question(t, ds, "What is Cy's cat called?"); q.Conversation != "conv-b" || q.Kind != "single-hop" {
		t.Errorf("conv-b question: %+v", q)
	}
}

func TestLoadLoCoMoTurns(t *testing.T) {
	ds := loadFaults(t)
	if len(ds.Conversations) != 2 {
		t.Fatalf("%d conversations", len(ds.Conversations))
	}
	a, ok := ds.Conversation("conv-a")
	if !ok || a.SpeakerA != "Ann" || a.SpeakerB != "Bob" {
		t.Fatalf("conv-a: %+v", a)
	}
	if _, ok := ds.Conversation("conv-z"); ok {
		t.Fatal("unknown conversation found")
	}
	// Sessions in numeric order (10 after 2), never by date key.
	var ids []string
	for _, tr := range a.Turns {
		ids = append(ids, tr.DiaID)
	}
	if got := strings.Join(ids, " "); got != "D1:1 D1:2 D2:1 D2:2 D10:1 D10:2 D10:3 D10:4 D10:5" {
		t.Fatalf("turn order: %s", got)
	}
	// Session date-time plus the turn's position in seconds.
	first := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC)
	if !a.Turns[0].Time.Equal(first) || !a.Turns[1].Time.Equal(first.Add(time.Second)) {
		t.Fatalf("session 1 times: %v %v", a.Turns[0].Time, a.Turns[1].Time)
	}
	if !a.Turns[2].Time.Equal(time.Date(2023, 6, 12, 9, 5, 0, 0, time.UTC)) {
		t.Fatalf("session 2 time (AM upper case): %v", a.Turns[2].Time)
	}
	if !a.Turns[8].Time.Equal(time.Date(2023, 12, 31, 23, 59, 4, 0, time.UTC)) || a.Turns[8].Session != 10 {
		t.Fatalf("D10:5: %+v", a.Turns[8])
	}
	// Memory text and metadata as bench.md prescribes.
	if got := a.Turns[0].Content(); got != "Ann: Hello world!" {
		t.Fatalf("content %q", got)
	}
	if got := a.Turns[1].Content(); got != "Bob: Look at my new ride. [image: a photo of a red bicycle]" {
		t.Fatalf("content with image %q", got)
	}
	md := a.Turns[4].Metadata()
	if len(md) != 2 || md["dia_id"] != "D10:1" || md["session"] != 10 {
		t.Fatalf("metadata %v", md)
	}
}

func TestParseSessionTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1:56 pm on 8 May, 2023":          time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC),
		"12:28 am on 8 November, 2023":    time.Date(2023, 11, 8, 0, 28, 0, 0, time.UTC),
		"12:09 pm on 13 September, 2022":  time.Date(2022, 9, 13, 12, 9, 0, 0, time.UTC),
		"10:04 AM on 19 December,  2023 ": time.Date(2023, 12, 19, 10, 4, 0, 0, time.UTC),
	} {
		got, err := bench.ParseSessionTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSessionTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8 May 2023", "25:00 pm on 8 May, 2023", "1:56 pm on 31 February, 2023"} {
		if _, err := bench.ParseSessionTime(bad); err == nil {
			t.Errorf("ParseSessionTime(%q) accepted", bad)
		}
	}
}

func TestLoadLoCoMoErrors(t *testing.T) {
	session := `"session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [{"speaker": "A", "dia_id": "D1:1", "text": "x"}]`
	cases := map[string]string{
		"not json":          `{`,
		"no sample_id":      `[{"conversation": {"speaker_a": "A", "speaker_b": "B"}, "qa": []}]`,
		"repeated id":       `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B"}}, {"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B"}}]`,
		"no speakers":       `[{"sample_id": "c", "conversation": {` + session + `}}]`,
		"no date":           `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1": []}}]`,
		"bad date":          `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1_date_time": "yesterday", "session_1": []}}]`,
		"bad dia_id":        `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [{"dia_id": "X"}]}}]`,
		"repeated dia_id":   `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [{"dia_id": "D1:1"}, {"dia_id": "D1:01"}]}}]`,
		"session not array": `[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": {}}}]`,
	}
	for name, in := range cases {
		if _, err := bench.ParseLoCoMo(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := bench.LoadLoCoMo("testdata/locomo/absent.json"); err == nil {
		t.Error("absent file accepted")
	}
	ds, err := bench.ParseLoCoMo(strings.NewReader(`[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B", ` + session + `}, "qa": []}]`))
	if err != nil || len(ds.Conversations[0].Turns) != 1 {
		t.Fatalf("minimal file: %v", err)
	}
}

func TestLoadQuestions(t *testing.T) {
	ds := loadFaults(t)
	qs, faults, err := bench.LoadQuestions("testdata/locomo/questions.json", ds)
	if err != nil {
		t.Fatal(err)
	}
	want := bench.Faults{SplitEvidence: 1, RepairedIDs: 1, DroppedIDs: 2, DuplicateIDs: 1, SkippedQuestions: 1}
	if faults != want {
		t.Fatalf("faults = %+v, want %+v", faults, want)
	}
	type row struct{ conv, kind, evidence, answer string }
	var got []row
	for _, q := range qs {
		got = append(got, row{q.Conversation, q.Kind, strings.Join(q.Evidence, " "), q.Answer})
	}
	wantRows := []row{
		{"conv-a", "paraphrase", "D1:1", ""},
		{"conv-a", "paraphrase", "D10:2", ""},
		{"conv-b", "unspecified", "D1:1", ""},
		{"conv-b", "temporal", "D1:1", "2022"},
	}
	if !slices.Equal(got, wantRows) {
		t.Fatalf("questions\n got %+v\nwant %+v", got, wantRows)
	}

	bad := map[string]string{
		"unknown conversation": `{"questions": [{"conversation": "conv-x", "question": "q", "evidence": ["D1:1"]}]}`,
		"empty question":       `{"questions": [{"conversation": "conv-a", "question": " ", "evidence": ["D1:1"]}]}`,
		"no questions":         `{"questions": []}`,
		"nothing answerable":   `{"questions": [{"conversation": "conv-a", "question": "q", "evidence": ["D42:1"]}]}`,
		"not json":             `{"questions": [`,
	}
	for name, in := range bad {
		if _, _, err := bench.ParseQuestions(strings.NewReader(in), ds); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := bench.LoadQuestions("testdata/locomo/absent.json", ds); err == nil {
		t.Error("absent file accepted")
	}
}

func TestCategoryName(t *testing.T) {
	for c, want := range map[int]string{1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial", 9: "category-9"} {
		if got := bench.CategoryName(c); got != want {
			t.Errorf("CategoryName(%d) = %q", c, got)
		}
	}
}

// checkDataset asserts the loader's guarantees on any dataset it accepts.
func checkDataset(t *testing.T, ds *bench.Dataset) {
	for _, q := range ds.Questions {
		c, ok := ds.Conversation(q.Conversation)
		if !ok || len(q.Evidence) == 0 {
			t.Fatalf("question %+v: conversation found %v", q, ok)
		}
		for _, id := range q.Evidence {
			if !slices.ContainsFunc(c.Turns, func(tr bench.Turn) bool { return tr.DiaID == id }) {
				t.Fatalf("evidence %s names no turn", id)
			}
		}
	}
}

func FuzzParseLoCoMo(f *testing.F) {
	seed, err := os.ReadFile(faultsFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"sample_id": "c", "conversation": {"speaker_a": "A", "speaker_b": "B"}, "qa": [{"evidence": ["D:1:01, D1:1;;"]}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := bench.ParseLoCoMo(bytes.NewReader(data))
		if err != nil {
			return
		}
		checkDataset(t, ds)
	})
}

func FuzzParseQuestions(f *testing.F) {
	ds, err := bench.LoadLoCoMo(faultsFile)
	if err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/locomo/questions.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"questions": [{"conversation": "conv-a", "question": "q", "evidence": ["d10:0005 D1:2"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, _, err := bench.ParseQuestions(bytes.NewReader(data), ds)
		if err != nil {
			return
		}
		if len(qs) == 0 {
			t.Fatal("no questions and no error")
		}
		copied := *ds
		copied.Questions = qs
		checkDataset(t, &copied)
	})
}
