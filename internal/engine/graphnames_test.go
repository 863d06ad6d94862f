package engine

import (
	"slices"
	"testing"
)

// TestQueryNames: runs of up to three capitalised words, each as its exact
// index key; every run of up to three words only when the query has no
// capital letter at all.
func TestQueryNames(t *testing.T) {
	for _, c := range []struct {
		q         string
		has, lack []string
	}{
		{"When did Caroline's friend visit the Grand Canyon?", []string{"x:when", "x:caroline", "x:grand canyon", "x:grand", "x:canyon"},
			[]string{"x:did", "x:friend", "x:caroline friend", "x:canyon when"}},
		{"Did Mel, Oliver and Bob meet?", []string{"x:mel", "x:oliver", "x:bob"}, []string{"x:mel oliver", "x:oliver and"}},
		{"what did caroline say about the grand canyon", []string{"x:caroline", "x:grand canyon", "x:what did caroline"},
			[]string{"x:the grand canyon about"}},
		{"is it ok", []string{"x:is it ok"}, []string{"x:is", "x:it", "x:ok"}},
		{"?!", nil, []string{""}},
	} {
		got := queryNames(c.q)
		for _, k := range c.has {
			if !slices.Contains(got, k) {
				t.Errorf("%q: %q missing from %q", c.q, k, got)
			}
		}
		for _, k := range c.lack {
			if slices.Contains(got, k) {
				t.Errorf("%q: %q in %q", c.q, k, got)
			}
		}
	}
}
