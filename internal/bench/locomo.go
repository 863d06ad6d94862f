package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dataset is a loaded LoCoMo file (docs: ../shared/design/bench.md): the
// conversations, their questions with evidence normalised, and what the
// loader had to repair.
type Dataset struct {
	Conversations []Conversation
	// Questions holds every category (1–5), in file order, except the
	// questions left with no evidence.
	Questions []Question
	Faults    Faults

	byID map[string]*conversationIndex
}

type conversationIndex struct {
	conv  *Conversation
	turns map[string]bool // dia_id → present
}

// Conversation is one LoCoMo sample: two speakers over numbered sessions.
type Conversation struct {
	ID       string // sample_id, e.g. "conv-26"
	SpeakerA string
	SpeakerB string
	// Turns are in conversation order: sessions by number, turns in file
	// order within a session.
	Turns []Turn
}

// Turn is one utterance, ingested as one memory.
type Turn struct {
	DiaID       string // "D<session>:<n>", e.g. "D3:5"
	Session     int
	Speaker     string
	Text        string
	BlipCaption string // caption of a shared image; empty when none
	// Time is the session's date-time plus the turn's 0-based position in
	// the session, in seconds (UTC; the dataset names no zone).
	Time time.Time
}

// Content is the memory text of the protocol: "<speaker>: <text>", then
// " [image: <caption>]" when the turn shared an image.
func (t Turn) Content() string {
	s := t.Speaker + ": " + t.Text
	if t.BlipCaption != "" {
		s += " [image: " + t.BlipCaption + "]"
	}
	return s
}

// Metadata is what a memory keeps to be mapped back to its turn:
// {"dia_id": "D3:5", "session": 3}.
func (t Turn) Metadata() map[string]any {
	return map[string]any{"dia_id": t.DiaID, "session": t.Session}
}

// Question is a retrieval query with its gold evidence.
type Question struct {
	Conversation string // sample_id of the conversation it is asked in
	Question     string
	Answer       string // the dataset's answer; empty for adversarial ones and question files
	// Evidence are the dia_ids of the turns that hold the answer,
	// normalised, each naming a turn of the conversation, without
	// repeats, never empty.
	Evidence []string
	Category int    // 1–5 for dataset questions; 0 when from a file without one
	Kind     string // the category's name, or the file's "kind"
}

// LoCoMo question categories.
const (
	MultiHop    = 1
	Temporal    = 2
	OpenDomain  = 3
	SingleHop   = 4
	Adversarial = 5
)

// DefaultCategories are those published systems score (bench.md).
var DefaultCategories = []int{MultiHop, Temporal, OpenDomain, SingleHop}

var categoryNames = map[int]string{
	MultiHop:    "multi-hop",
	Temporal:    "temporal",
	OpenDomain:  "open-domain",
	SingleHop:   "single-hop",
	Adversarial: "adversarial",
}

// CategoryName names a category: "multi-hop", "temporal", "open-domain",
// "single-hop", "adversarial", or "category-N" for any other number.
func CategoryName(c int) string {
	if n, ok := categoryNames[c]; ok {
		return n
	}
	return "category-" + strconv.Itoa(c)
}

// Faults counts the data faults the loader repaired or worked around.
// For the published locomo10.json: 16 orphan date keys, 4 split evidence
// strings, 2 repaired ids, 3 dropped ids, 1 duplicate, 4 skipped
// questions.
type Faults struct {
	// OrphanDateKeys are session_N_date_time keys with no session_N
	// (conv-26 has 16); they are ignored.
	OrphanDateKeys int `json:"orphan_date_keys"`
	// SplitEvidence are evidence strings holding several ids separated by
	// ";", "," or spaces ("D8:6; D9:17").
	SplitEvidence int `json:"split_evidence"`
	// RepairedIDs are ids rewritten to canonical form: "D:11:26" →
	// "D11:26", "D30:05" → "D30:5".
	RepairedIDs int `json:"repaired_ids"`
	// DroppedIDs are ids that name no turn of the conversation ("D",
	// "D10:19" where session 10 is shorter).
	DroppedIDs int `json:"dropped_ids"`
	// DuplicateIDs are ids repeated within one question's evidence.
	DuplicateIDs int `json:"duplicate_ids"`
	// SkippedQuestions are questions left with no evidence; they are not
	// asked.
	SkippedQuestions int `json:"skipped_questions"`
}

func (f Faults) String() string {
	return fmt.Sprintf("orphan date keys ignored %d, evidence strings split %d, ids repaired %d, ids dropped %d, duplicate ids %d, questions skipped %d",
		f.OrphanDateKeys, f.SplitEvidence, f.RepairedIDs, f.DroppedIDs, f.DuplicateIDs, f.SkippedQuestions)
}

// Conversation returns the conversation with sample_id id.
func (ds *Dataset) Conversation(id string) (*Conversation, bool) {
	ci, ok := ds.byID[id]
	if !ok {
		return nil, false
	}
	return ci.conv, true
}

// LoadLoCoMo reads a LoCoMo file such as locomo10.json. It repairs the
// known data faults (see Faults) and fails on anything it cannot make
// sense of: malformed JSON, a missing sample_id or repeated one, a
// session without a readable date-time, a turn without a dia_id or a
// repeated one.
func LoadLoCoMo(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("locomo: %w", err)
	}
	defer f.Close()
	return ParseLoCoMo(f)
}

type rawSample struct {
	SampleID     string                     `json:"sample_id"`
	Conversation map[string]json.RawMessage `json:"conversation"`
	QA           []rawQA                    `json:"qa"`
}

type rawQA struct {
	Question string          `json:"question"`
	Answer   json.RawMessage `json:"answer"`
	Evidence []string        `json:"evidence"`
	Category int             `json:"category"`
}

type rawTurn struct {
	Speaker     string `json:"speaker"`
	DiaID       string `json:"dia_id"`
	Text        string `json:"text"`
	BlipCaption string `json:"blip_caption"`
}

var sessionKey = regexp.MustCompile(`^session_([0-9]+)$`)

// ParseLoCoMo is LoadLoCoMo on a reader.
func ParseLoCoMo(r io.Reader) (*Dataset, error) {
	var raw []rawSample
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("locomo: decode: %w", err)
	}
	ds := &Dataset{byID: map[string]*conversationIndex{}}
	ids := map[string]bool{}
	for i, s := range raw {
		if s.SampleID == "" {
			return nil, fmt.Errorf("locomo: sample %d has no sample_id", i)
		}
		if ids[s.SampleID] {
			return nil, fmt.Errorf("locomo: sample_id %q repeated", s.SampleID)
		}
		ids[s.SampleID] = true
		conv, orphans, err := parseConversation(s)
		if err != nil {
			return nil, fmt.Errorf("locomo: %s: %w", s.SampleID, err)
		}
		ds.Faults.OrphanDateKeys += orphans
		ds.Conversations = append(ds.Conversations, conv)
	}
	for i := range ds.Conversations {
		ds.index(&ds.Conversations[i])
	}
	for _, s := range raw {
		turns := ds.byID[s.SampleID].turns
		for _, qa := range s.QA {
			ev := normaliseEvidence(qa.Evidence, turns, &ds.Faults)
			if len(ev) == 0 {
				ds.Faults.SkippedQuestions++
				continue
			}
			ds.Questions = append(ds.Questions, Question{
				Conversation: s.SampleID,
				Question:     qa.Question,
				Answer:       answerText(qa.Answer),
				Evidence:     ev,
				Category:     qa.Category,
				Kind:         CategoryName(qa.Category),
			})
		}
	}
	return ds, nil
}

func (ds *Dataset) index(c *Conversation) {
	ci := &conversationIndex{conv: c, turns: make(map[string]bool, len(c.Turns))}
	for _, t := range c.Turns {
		ci.turns[t.DiaID] = true
	}
	ds.byID[c.ID] = ci
}

func parseConversation(s rawSample) (Conversation, int, error) {
	c := Conversation{ID: s.SampleID}
	if err := decodeString(s.Conversation, "speaker_a", &c.SpeakerA); err != nil {
		return c, 0, err
	}
	if err := decodeString(s.Conversation, "speaker_b", &c.SpeakerB); err != nil {
		return c, 0, err
	}
	// Sessions are the session_N keys, in numeric order. Date keys are
	// looked up from them, never iterated: conv-26 has date keys for
	// sessions that do not exist.
	var sessions []int
	for k := range s.Conversation {
		if m := sessionKey.FindStringSubmatch(k); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return c, 0, fmt.Errorf("session key %q: %w", k, err)
			}
			sessions = append(sessions, n)
		}
	}
	slices.Sort(sessions)
	orphans := 0
	for k := range s.Conversation {
		num, ok := strings.CutSuffix(k, "_date_time")
		if !ok || !sessionKey.MatchString(num) {
			continue
		}
		if _, has := s.Conversation[num]; !has {
			orphans++
		}
	}
	seen := map[string]bool{}
	for i, n := range sessions {
		if i > 0 && n == sessions[i-1] {
			return c, 0, fmt.Errorf("session %d repeated", n)
		}
		key := "session_" + strconv.Itoa(n)
		var date string
		if err := decodeString(s.Conversation, key+"_date_time", &date); err != nil {
			return c, 0, err
		}
		start, err := ParseSessionTime(date)
		if err != nil {
			return c, 0, fmt.Errorf("%s_date_time: %w", key, err)
		}
		var turns []rawTurn
		if err := json.Unmarshal(s.Conversation[key], &turns); err != nil {
			return c, 0, fmt.Errorf("%s: %w", key, err)
		}
		for j, t := range turns {
			id, _, ok := canonicalID(t.DiaID)
			if !ok {
				return c, 0, fmt.Errorf("%s turn %d: bad dia_id %q", key, j, t.DiaID)
			}
			if seen[id] {
				return c, 0, fmt.Errorf("%s turn %d: dia_id %s repeated", key, j, id)
			}
			seen[id] = true
			c.Turns = append(c.Turns, Turn{
				DiaID:       id,
				Session:     n,
				Speaker:     t.Speaker,
				Text:        t.Text,
				BlipCaption: t.BlipCaption,
				Time:        start.Add(time.Duration(j) * time.Second),
			})
		}
	}
	return c, orphans, nil
}

func decodeString(m map[string]json.RawMessage, key string, dst *string) error {
	raw, ok := m[key]
	if !ok {
		return fmt.Errorf("%s missing", key)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// answerText renders an answer that the file holds as a string or a
// number (some are years: 2022).
func answerText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return strings.TrimSpace(string(raw))
}

var sessionLayouts = []string{"3:04 pm on 2 January, 2006", "3:04 PM on 2 January, 2006"}

// ParseSessionTime reads a LoCoMo session date-time such as "1:56 pm on 8
// May, 2023" (as UTC).
func ParseSessionTime(s string) (time.Time, error) {
	s = strings.Join(strings.Fields(s), " ")
	var err error
	for _, layout := range sessionLayouts {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable session date-time %q", s)
}

var idPattern = regexp.MustCompile(`^[Dd]:?0*([0-9]+):0*([0-9]+)$`)

// canonicalID returns the canonical "D<session>:<turn>" form of an id,
// whether it had to be rewritten, and false when it is no id at all.
func canonicalID(s string) (id string, changed, ok bool) {
	m := idPattern.FindStringSubmatch(s)
	if m == nil {
		return "", false, false
	}
	sess, err1 := strconv.Atoi(m[1])
	turn, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return "", false, false
	}
	id = "D" + strconv.Itoa(sess) + ":" + strconv.Itoa(turn)
	return id, id != s, true
}

// normaliseEvidence splits, repairs, checks and de-duplicates evidence
// ids, counting each fault in f.
func normaliseEvidence(raw []string, turns map[string]bool, f *Faults) []string {
	var out []string
	for _, s := range raw {
		parts := strings.FieldsFunc(s, func(r rune) bool {
			return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})
		if len(parts) > 1 {
			f.SplitEvidence++
		}
		if len(parts) == 0 {
			f.DroppedIDs++
			continue
		}
		for _, p := range parts {
			id, changed, ok := canonicalID(p)
			switch {
			case !ok || !turns[id]:
				f.DroppedIDs++
			case slices.Contains(out, id):
				f.DuplicateIDs++
			default:
				if changed {
					f.RepairedIDs++
				}
				out = append(out, id)
			}
		}
	}
	return out
}

// questionFile is the --questions format of contract.md.
type questionFile struct {
	Questions []struct {
		Conversation string   `json:"conversation"`
		Question     string   `json:"question"`
		Evidence     []string `json:"evidence"`
		Kind         string   `json:"kind"`
		Category     int      `json:"category"`
		Answer       any      `json:"answer"`
	} `json:"questions"`
}

// LoadQuestions reads a question file in the `--questions` format,
// {"questions": [{"conversation", "question", "evidence": [...], "kind"}]},
// and checks it against ds. Evidence is normalised as the dataset's is:
// ids that name no turn are dropped and questions left without evidence
// are skipped, both counted in the returned Faults. A question without a
// kind takes its "category" name when it has one, else "unspecified". An
// unknown conversation, an empty question or a file without questions is
// an error.
func LoadQuestions(path string, ds *Dataset) ([]Question, Faults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Faults{}, fmt.Errorf("questions: %w", err)
	}
	defer f.Close()
	return ParseQuestions(f, ds)
}

// ParseQuestions is LoadQuestions on a reader.
func ParseQuestions(r io.Reader, ds *Dataset) ([]Question, Faults, error) {
	var faults Faults
	var qf questionFile
	if err := json.NewDecoder(r).Decode(&qf); err != nil {
		return nil, faults, fmt.Errorf("questions: decode: %w", err)
	}
	if len(qf.Questions) == 0 {
		return nil, faults, errors.New("questions: the file holds no questions")
	}
	var out []Question
	for i, q := range qf.Questions {
		ci, ok := ds.byID[q.Conversation]
		if !ok {
			return nil, faults, fmt.Errorf("questions: question %d: unknown conversation %q", i, q.Conversation)
		}
		if strings.TrimSpace(q.Question) == "" {
			return nil, faults, fmt.Errorf("questions: question %d is empty", i)
		}
		ev := normaliseEvidence(q.Evidence, ci.turns, &faults)
		if len(ev) == 0 {
			faults.SkippedQuestions++
			continue
		}
		kind := strings.TrimSpace(q.Kind)
		switch {
		case kind != "":
		case q.Category != 0:
			kind = CategoryName(q.Category)
		default:
			kind = "unspecified"
		}
		ans := ""
		if q.Answer != nil {
			ans = strings.TrimSpace(fmt.Sprint(q.Answer))
		}
		out = append(out, Question{
			Conversation: q.Conversation,
			Question:     q.Question,
			Answer:       ans,
			Evidence:     ev,
			Category:     q.Category,
			Kind:         kind,
		})
	}
	if len(out) == 0 {
		return nil, faults, errors.New("questions: no question has evidence that names a turn")
	}
	return out, faults, nil
}

// Texts returns the memory text (Turn.Content) of every turn of every
// conversation, in dataset order.
func (ds *Dataset) Texts() []string {
	var out []string
	for _, c := range ds.Conversations {
		for _, t := range c.Turns {
			out = append(out, t.Content())
		}
	}
	return out
}

// QuestionTexts returns the text of every question in the categories, in
// file order.
func (ds *Dataset) QuestionTexts(categories []int) []string {
	var out []string
	for _, q := range ds.Questions {
		if slices.Contains(categories, q.Category) {
			out = append(out, q.Question)
		}
	}
	return out
}
