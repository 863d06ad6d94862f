// Package extract is Engram's built-in extractor: offline, deterministic, pure Go. It turns a message (or a
// conversation of messages) into entity mentions and candidate facts (subject, predicate, object or value),
// each fact carrying the sentence it came from, a world time resolved against the message's timestamp when the
// sentence says when, and a negation flag when the sentence ends the fact ("I no longer play the cello").
//
// It finds facts with rules, not a parser: sentences, part-of-speech tags and named entities come from
// github.com/jdkato/prose/v3; a predicate lexicon maps phrasings onto canonical predicates; the subject is found
// by walking left from the phrase over adverbs, auxiliaries and negation cues, the object by walking right to a
// clause boundary. First person resolves to the speaker; "he"/"she" resolve only when exactly one person seen so
// far can be meant, otherwise the fact keeps the pronoun and is marked unresolved. Contradictions are not this
// package's job: facts.DefaultTable() tells the caller which predicates hold one value at a time.
//
// The package has no state besides the models, which load once per process (see LoadTime).
package extract

import (
	"strings"
	"sync"
	"time"

	"github.com/jdkato/prose/v3"
)

// Message is one turn of a conversation. Time is the reference time for relative dates ("last week"); when it
// is zero, relative dates are left unresolved.
type Message struct {
	Role string // "user", "assistant", …: first-person facts are taken from human turns only (see Human)
	Name string // the speaker's name, optional
	Text string
	Time time.Time
}

// Human reports whether a role is a person's turn, whose "I" and "my" are the speaker: "user", "human" (any
// case) or no role at all. Every other role — "assistant", "ai", "model", "system", "developer", "tool", or one
// this list does not know — speaks for a program, and what it says of itself is never a fact about anyone.
// An allow-list, so that a new role name errs towards no fact rather than a fact about the wrong speaker.
func Human(role string) bool {
	switch strings.ToLower(strings.TrimSpace(role)) {
	case "", "user", "human":
		return true
	}
	return false
}

// EntityType is the kind of an entity mention.
type EntityType string

// The entity types.
const (
	Person       EntityType = "person"
	Organisation EntityType = "organisation"
	Place        EntityType = "place"
	Product      EntityType = "product"
	Pet          EntityType = "pet"
	Event        EntityType = "event"
	Other        EntityType = "other"
)

// SpeakerSubject stands for the speaker when a first-person fact comes from a message without a speaker name.
const SpeakerSubject = "<speaker>"

// Mention is one entity named in a message. Start and End are byte offsets into that message's Text.
type Mention struct {
	Name    string     `json:"name"` // as written
	Norm    string     `json:"norm"` // entity.Normalise(Name), the resolver's key
	Type    EntityType `json:"type"`
	Message int        `json:"message"` // index of the message in the conversation
	Start   int        `json:"start"`
	End     int        `json:"end"`
}

// Fact is a candidate fact. Exactly one of Object (an entity's name) and Value (a literal) is set.
type Fact struct {
	Subject     string     `json:"subject"` // a name, SpeakerSubject, or the pronoun as written when !Resolved
	SubjectType EntityType `json:"subject_type"`
	Resolved    bool       `json:"resolved"` // false when the subject is a pronoun nobody could be sure of
	Predicate   string     `json:"predicate"`
	Object      string     `json:"object,omitempty"`
	ObjectType  EntityType `json:"object_type,omitempty"`
	Value       string     `json:"value,omitempty"`
	Negated     bool       `json:"negated"` // the sentence ends the fact ("no longer", "stopped", "quit")
	ValidAt     *time.Time `json:"valid_at,omitempty"`
	Sentence    string     `json:"sentence"`
	Message     int        `json:"message"`
	Start       int        `json:"start"` // byte offsets of Sentence in the message's Text
	End         int        `json:"end"`
}

// Result is what extraction found, in text order.
type Result struct {
	Entities []Mention `json:"entities"`
	Facts    []Fact    `json:"facts"`
}

var (
	loadOnce sync.Once
	loadErr  error
	loadTime time.Duration
)

// load warms prose's models (the tagger and the entity recogniser load on first use) once per process, so the
// first message does not pay for it and the cost can be measured.
func load() error {
	loadOnce.Do(func() {
		t0 := time.Now()
		_, loadErr = prose.NewDocument("Anna lives in Paris.")
		loadTime = time.Since(t0)
	})
	return loadErr
}

// LoadTime loads the models if needed and reports how long the one load took.
func LoadTime() (time.Duration, error) {
	err := load()
	return loadTime, err
}

// Extract extracts from one message. The error is only ever the models failing to load; it never holds text.
func Extract(m Message) (Result, error) {
	return ExtractConversation([]Message{m})
}

// ExtractConversation extracts from messages in order; pronouns may refer to people named in earlier messages.
func ExtractConversation(msgs []Message) (Result, error) {
	if err := load(); err != nil {
		return Result{}, err
	}
	var res Result
	ctx := &discourse{}
	for i, m := range msgs {
		extractMessage(ctx, i, m, &res)
	}
	return res, nil
}
