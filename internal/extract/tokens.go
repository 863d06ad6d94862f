package extract

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tok is a word or punctuation mark of a sentence. Contractions expand into several toks that share the source
// span ("don't" → do, not), so the lexicon is written once, in full forms.
type tok struct {
	low        string // lower-case, expanded form
	start, end int    // byte offsets in the message
	cap        bool   // starts with an upper-case letter in the source
	punct      bool
	tag        string // part-of-speech tag from prose, when one starts here
}

// tokenize splits text[start:end] into toks with offsets into text.
func tokenize(text string, start, end int) []tok {
	var out []tok
	i := start
	for i < end {
		r, n := utf8.DecodeRuneInString(text[i:end])
		switch {
		case unicode.IsSpace(r):
			i += n
		case isWordRune(r):
			j := i
			for j < end {
				r2, n2 := utf8.DecodeRuneInString(text[j:end])
				if isWordRune(r2) || ((r2 == '\'' || r2 == '’' || r2 == '-' || r2 == '.' || r2 == '&') && j+n2 < end && nextIsWord(text[j+n2:end])) {
					j += n2
					continue
				}
				break
			}
			out = append(out, expand(text[i:j], i, j)...)
			i = j
		default:
			out = append(out, tok{low: string(r), start: i, end: i + n, punct: true})
			i += n
		}
	}
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func nextIsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

var contractions = map[string][]string{
	"i'm": {"i", "am"}, "i've": {"i", "have"}, "i'd": {"i", "would"}, "i'll": {"i", "will"},
	"don't": {"do", "not"}, "doesn't": {"does", "not"}, "didn't": {"did", "not"}, "can't": {"can", "not"},
	"won't": {"will", "not"}, "isn't": {"is", "not"}, "aren't": {"are", "not"}, "wasn't": {"was", "not"},
	"haven't": {"have", "not"}, "hasn't": {"has", "not"}, "cannot": {"can", "not"},
	"he's": {"he", "is"}, "she's": {"she", "is"}, "we're": {"we", "are"}, "they're": {"they", "are"},
	"you're": {"you", "are"}, "it's": {"it", "is"}, "that's": {"that", "is"}, "we've": {"we", "have"},
}

func expand(w string, start, end int) []tok {
	r, _ := utf8.DecodeRuneInString(w)
	c := unicode.IsUpper(r)
	low := strings.ToLower(strings.ReplaceAll(w, "’", "'"))
	if parts, ok := contractions[low]; ok {
		out := make([]tok, len(parts))
		for k, p := range parts {
			out[k] = tok{low: p, start: start, end: end, cap: c && k == 0}
		}
		return out
	}
	if strings.HasSuffix(low, "'s") && len(low) > 2 {
		// A possessive or "is" after a name: keep the name whole and mark the clitic.
		cut := end - len(w) + strings.LastIndexAny(w, "'’")
		return []tok{{low: low[:len(low)-2], start: start, end: cut, cap: c}, {low: "'s", start: cut, end: end}}
	}
	return []tok{{low: low, start: start, end: end, cap: c}}
}
