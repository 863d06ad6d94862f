// Package topics holds Observe's offline rules for what memories are about
// and what recurs across them, as pure functions: no store, no clock, no
// randomness, so the same inputs always give the same answer.
//
// Label names the topics of one memory from a fixed taxonomy (Taxonomy):
// the predicates of its extracted facts are the strongest evidence
// ("lives_in" is home & location), entity types come next (a pet's name is
// pets), and a stemmed keyword lexicon covers text with no facts. Count
// turns the labels of many memories into per-topic counts.
//
// Detect finds patterns across episodes, each resting on facts the caller
// passed: a preference stated in several distinct episodes, a routine (the
// same statement on the same weekday or time of day), and a single-valued
// attribute that keeps changing. A pattern only ever carries ids, subjects,
// predicates and values copied from its facts; it never invents content.
//
// docs/OBSERVE.md ("internal/topics") lists the taxonomy, the rules, the
// measured precision and recall and what the rules cannot do.
package topics
