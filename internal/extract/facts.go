package extract

import (
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/entity"
)

// sentenceCtx holds one sentence while its facts are found.
type sentenceCtx struct {
	d          *discourse
	msg        Message
	mi         int
	text       string
	ts         []tok
	start, end int
	out        []Fact
	clauses    [][2]int // per fact in out: the token range of its clause, for its date
	ments      []ranked
	ner        []ranked // names found before facts, to type objects the predicate does not
}

var (
	// skipLeft are words between a subject and its verb phrase that do not change who the subject is.
	skipLeft = nameSet("also,really,still,now,recently,just,finally,actually,absolutely,totally,currently,definitely," +
		"already,truly,especially,mostly,usually,always,often,sometimes,officially,happily,proudly,secretly,even," +
		"basically,literally,honestly,originally,do,does,did,have,has,had,am,is,are,was,were,been,got,'ve")
	// negLeft are words there that end the fact.
	negLeft = nameSet("not,never,no,longer,stopped,quit,gave,up")
	// stopObj ends an object phrase.
	stopObj = nameSet("and,but,or,because,since,when,while,with,last,ago,in,on,at,for,from,yesterday,today,tonight," +
		"now,anymore,any,too,as,so,which,who,that,where,this,next,every,after,before,until,than,though,although,if,to," +
		"is,was,are,am,be,been,will,would,really,very,lately,recently,all,again,there,here,instead,either,now,these," +
		"i,you,he,she,we,they,it,me,him,them,us,'s,of,by,about,like,than,during,back,more,a,an,named,called")
	determiners = nameSet("a,an,the,some")
	possessives = nameSet("my,his,her,your,our,their,its")
	// notTitles are heads that follow "I'm a" without being a job.
	notTitles = nameSet("bit,little,lot,fan,person,kind,sort,mess,fool,idiot,friend,mom,mum,dad,parent,mother,father," +
		"member,part,guy,girl,man,woman,lover,day,night,morning,beginner,fan,big,huge,believer,sucker,type")
)

func (s *sentenceCtx) facts() {
	ts := s.ts
	if len(ts) == 0 || ts[len(ts)-1].low == "?" || ts[0].low == "if" {
		return // questions and conditionals state nothing
	}
	for i := 0; i < len(ts); {
		if n := s.relation(i); n > 0 {
			i += n
			continue
		}
		if n := s.phrase(i); n > 0 {
			i += n
			continue
		}
		i++
	}
	s.dates()
}

// relation reads "my sister Anna", "my dog called Max": a possessive, a relation noun and a name.
func (s *sentenceCtx) relation(i int) int {
	ts := s.ts
	if i+2 >= len(ts) || !possessives[ts[i].low] || ts[i].low == "your" || ts[i].low == "our" || ts[i].low == "their" || ts[i].low == "its" {
		return 0
	}
	pred, typ := "", EntityType("")
	if r, ok := relations[ts[i+1].low]; ok {
		pred, typ = r.pred, r.typ
	} else if contains(animals, ts[i+1].low) {
		pred, typ = "has_pet", Pet
	} else {
		return 0
	}
	k := i + 2
	if k < len(ts) && (ts[k].low == "named" || ts[k].low == "called") {
		k++
	}
	if k >= len(ts) || !ts[k].cap || notNames[ts[k].low] {
		return 0
	}
	j := capRun(ts, k)
	subj, st, ok := s.subjectWord(i, ts[i].low)
	if !ok {
		return j - i
	}
	name := s.text[ts[k].start:ts[j-1].end]
	s.mention(ts[k].start, ts[j-1].end, typ)
	s.emit(Fact{Subject: subj, SubjectType: Person, Resolved: st, Predicate: pred, Object: name, ObjectType: typ}, false, i, j)
	return j - i
}

// subjectWord resolves a first-person or third-person word at position i.
func (s *sentenceCtx) subjectWord(i int, w string) (string, bool, bool) {
	switch w {
	case "i", "my", "me":
		if !Human(s.msg.Role) {
			return "", false, false // what the assistant says of itself is not a memory of the user
		}
		if s.msg.Name != "" {
			return s.msg.Name, true, true
		}
		return SpeakerSubject, true, true
	case "he", "she", "his", "her":
		p := "she"
		if w == "he" || w == "his" {
			p = "he"
		}
		if name, ok := s.d.resolve(p, s.msg, s.mi, s.ts[i].start); ok {
			return name, true, true
		}
		return s.text[s.ts[i].start:s.ts[i].end], false, true
	}
	return "", false, false
}

// phrase tries the lexicon at i and, on a match with a subject and an object, emits the fact.
func (s *sentenceCtx) phrase(i int) int {
	ts := s.ts
	for _, r := range lexicon {
		n := r.match(ts[i:])
		if n == 0 {
			continue
		}
		var subj string
		var resolved, neg, ok bool
		var styp EntityType = Person
		if r.words[0][0] == "my" { // "my hobby is": the phrase holds its own subject
			subj, resolved, ok = s.subjectWord(i, "my")
		} else {
			subj, resolved, styp, neg, ok = s.subject(i)
		}
		if !ok {
			continue
		}
		f := Fact{Subject: subj, SubjectType: styp, Resolved: resolved, Predicate: r.pred}
		k := i + n
		if r.fixed != "" {
			f.Value = r.fixed
			if r.fixed == "$last" {
				f.Value = ts[k-1].low
			}
			s.emit(f, neg || r.negate, i, k)
			return n
		}
		objs, end := s.objects(r, k)
		if len(objs) == 0 {
			continue
		}
		for _, o := range objs {
			g := f
			g.Object, g.ObjectType, g.Value = o.name, o.typ, o.value
			s.emit(g, neg || r.negate, i, end)
		}
		// "a teacher at Lincoln High" states the employer too.
		if r.pred == "job_title" && end+1 < len(ts) && ts[end].low == "at" && ts[end+1].cap && !notNames[ts[end+1].low] {
			j := capRun(ts, end+1)
			a, b := ts[end+1].start, ts[j-1].end
			s.mention(a, b, Organisation)
			g := f
			g.Predicate, g.Object, g.ObjectType = "works_at", s.text[a:b], Organisation
			s.emit(g, neg || r.negate, i, j)
			end = j
		}
		// "joined Acme as an engineer" states the job title too.
		if r.pred == "works_at" && end+1 < len(ts) && ts[end].low == "as" && determiners[ts[end+1].low] {
			if jt, e2, ok := s.object(rule{pred: "job_title", obj: value}, end+1); ok {
				g := f
				g.Predicate, g.Value = "job_title", jt.value
				s.emit(g, neg || r.negate, i, e2)
				end = e2
			}
		}
		return end - i
	}
	return 0
}

// subject walks left from the phrase at i over adverbs, auxiliaries and negation to the subject.
func (s *sentenceCtx) subject(i int) (name string, resolved bool, typ EntityType, neg bool, ok bool) {
	ts := s.ts
	j := i - 1
	for ; j >= 0; j-- {
		w := ts[j].low
		if w == "to" && j > 0 && ts[j-1].low == "used" { // "I used to live in": it ended
			neg = true
			j--
			continue
		}
		if negLeft[w] {
			neg = true
			continue
		}
		if !skipLeft[w] {
			break
		}
	}
	if j < 0 || ts[j].punct {
		return
	}
	// "… but moved to Austin": a verb joined to the last clause shares its subject, not its negation.
	if (ts[j].low == "and" || ts[j].low == "but" || ts[j].low == "then") && len(s.out) > 0 {
		last := s.out[len(s.out)-1]
		return last.Subject, last.Resolved, last.SubjectType, neg && ts[j].low != "but", true
	}
	if n, r, ok2 := s.subjectWord(j, ts[j].low); ok2 && ts[j].low != "my" && ts[j].low != "his" && ts[j].low != "her" {
		return n, r, Person, neg, true
	}
	if !ts[j].cap || notNames[ts[j].low] {
		return
	}
	a := j
	for a > 0 && ts[a-1].cap && !ts[a-1].punct && !notNames[ts[a-1].low] {
		a--
	}
	name = s.text[ts[a].start:ts[j].end]
	typ = Person
	if g, ok2 := gazetteer[entity.Normalise(name)]; ok2 {
		typ = g
	}
	for _, m := range s.ments { // "my dog Max … Max loves" keeps Max a pet
		if m.Norm == entity.Normalise(name) {
			typ = m.Type
		}
	}
	s.mention(ts[a].start, ts[j].end, typ)
	return name, true, typ, neg, true
}

type object struct {
	name  string
	typ   EntityType
	value string
}

// objects reads one object after a phrase, or a list of them ("English, French and German") for a
// multi-valued predicate. It returns the objects and the index just past them.
func (s *sentenceCtx) objects(r rule, k int) ([]object, int) {
	var out []object
	for {
		o, next, ok := s.object(r, k)
		if !ok {
			break
		}
		out = append(out, o)
		k = next
		if table.Single(r.pred) || k >= len(s.ts) {
			break
		}
		// A list continues with "," or "and" and a word that is not a new clause's subject.
		m := k
		for m < len(s.ts) && (s.ts[m].low == "," || s.ts[m].low == "and" || s.ts[m].low == "or") {
			m++
		}
		if m == k || m >= len(s.ts) || stopObj[s.ts[m].low] || possessives[s.ts[m].low] || m+1 < len(s.ts) && s.startsClause(m) {
			break
		}
		k = m
	}
	return out, k
}

// startsClause reports whether the words at m look like a new subject and verb ("Anna lives …").
func (s *sentenceCtx) startsClause(m int) bool {
	return s.ts[m].cap && m+1 < len(s.ts) && strings.HasPrefix(s.ts[m+1].tag, "VB")
}

func (s *sentenceCtx) object(r rule, k int) (object, int, bool) {
	ts := s.ts
	hadDet := false
	for k < len(ts) && determiners[ts[k].low] {
		k, hadDet = k+1, true
	}
	if k >= len(ts) || ts[k].punct || possessives[ts[k].low] {
		return object{}, k, false
	}
	if r.obj.value || !ts[k].cap || languages[ts[k].low] {
		if r.obj.entity == Place || r.obj.entity == Person {
			return object{}, k, false // "moved to a new flat" names no place
		}
		if r.obj.entity == Organisation && !(hadDet && contains(r.words[0], "work")) {
			return object{}, k, false // "joined a gym"; but "work at a bakery" says where
		}
		e := k
		for e < len(ts) && e-k < 4 && !ts[e].punct && !stopObj[ts[e].low] && !possessives[ts[e].low] {
			e++
		}
		if e == k {
			return object{}, k, false
		}
		v := s.text[ts[k].start:ts[e-1].end]
		if r.only != nil && !anyIn(r.only, ts[k:e]) {
			return object{}, k, false
		}
		if r.pred == "diet" { // "a vegan chef" states the diet, not the job
			for _, t := range ts[k:e] {
				if contains(diets, t.low) {
					v = s.text[t.start:t.end]
				}
			}
		}
		if r.pred == "job_title" && (notTitles[ts[k].low] || notTitles[ts[e-1].low] || !strings.HasPrefix(ts[e-1].tag, "NN")) {
			return object{}, k, false
		}
		if r.pred == "has_pet" && e < len(ts)-1 && (ts[e].low == "named" || ts[e].low == "called") && ts[e+1].cap {
			j := capRun(ts, e+1)
			s.mention(ts[e+1].start, ts[j-1].end, Pet)
			return object{name: s.text[ts[e+1].start:ts[j-1].end], typ: Pet}, j, true
		}
		return object{value: v}, e, true
	}
	if r.only != nil {
		return object{}, k, false
	}
	j := capRun(ts, k)
	name := s.text[ts[k].start:ts[j-1].end]
	typ := r.obj.entity
	if typ == "" {
		typ = s.typeOf(ts[k].start, ts[j-1].end)
	}
	s.mention(ts[k].start, ts[j-1].end, typ)
	return object{name: name, typ: typ}, j, true
}

// typeOf types a capitalised object that the predicate does not type ("I love Taylor Swift").
func (s *sentenceCtx) typeOf(a, b int) EntityType {
	norm := entity.Normalise(s.text[a:b])
	if g, ok := gazetteer[norm]; ok {
		return g
	}
	for _, m := range s.ner {
		if m.Start == a && m.End == b && m.prio >= fromNER {
			return m.Type
		}
	}
	if first := strings.Fields(norm + " x")[0]; femaleNames[first] || maleNames[first] {
		return Person
	}
	return Other
}

func (s *sentenceCtx) mention(a, b int, t EntityType) {
	name := s.text[a:b]
	s.ments = append(s.ments, ranked{Mention{Name: name, Norm: entity.Normalise(name), Type: t, Message: s.mi, Start: a, End: b}, fromFact})
}

// clauseBreak reports whether ts[k] ends a clause, so that a date or "anymore" belongs to its own clause:
// punctuation, "but", and an "and" that starts a new subject ("… and I joined Zalando two days ago").
func (s *sentenceCtx) clauseBreak(k int) bool {
	switch s.ts[k].low {
	case ",": // but not inside a date: "on March 3rd, 2024"
		if _, isYear := year(s.tok(k + 1)); isYear {
			_, isDay := dayOfMonth(s.tok(k - 1))
			return !isDay
		}
		return true
	case ";", ":", "but":
		return true
	case "and":
		return k+1 < len(s.ts) && (subjectPronouns[s.ts[k+1].low] || s.startsClause(k+1))
	}
	return false
}

// tok is the lower-case word at k, or "" outside the sentence.
func (s *sentenceCtx) tok(k int) string {
	if k < 0 || k >= len(s.ts) {
		return ""
	}
	return s.ts[k].low
}

var subjectPronouns = nameSet("i,he,she,we,they")

// emit records a fact found at phrase index from, whose object ends before after; negated when the phrase
// was, or when "anymore" follows it in its clause.
func (s *sentenceCtx) emit(f Fact, neg bool, from, after int) {
	l, r := from, after
	for l > 0 && !s.clauseBreak(l-1) {
		l--
	}
	for r < len(s.ts) && !s.clauseBreak(r) {
		r++
	}
	for k := after; k < r; k++ {
		if s.ts[k].low == "anymore" || (s.ts[k].low == "any" && k+1 < r && s.ts[k+1].low == "more") {
			neg = true
		}
	}
	f.Negated = neg
	f.Sentence = s.text[s.start:s.end]
	f.Message, f.Start, f.End = s.mi, s.start, s.end
	s.out = append(s.out, f)
	s.clauses = append(s.clauses, [2]int{l, r})
}

// dates gives each fact the date its clause states or, failing that, the one a leading adverbial states for
// the whole sentence ("In January, I joined Acme").
func (s *sentenceCtx) dates() {
	if len(s.out) == 0 || s.msg.Time.IsZero() {
		return
	}
	lead := s.clauses[0][0]
	for _, c := range s.clauses {
		lead = min(lead, c[0])
	}
	var leadDate *time.Time
	leadDone := false
	for k := range s.out {
		c := s.clauses[k]
		d := resolveDate(s.ts[c[0]:c[1]], s.span(c[0], c[1]), s.msg.Time)
		if d == nil && lead > 0 {
			if !leadDone {
				leadDate, leadDone = resolveDate(s.ts[:lead], s.span(0, lead), s.msg.Time), true
			}
			if leadDate != nil {
				c := *leadDate // each fact owns its time
				d = &c
			}
		}
		s.out[k].ValidAt = d
	}
}

func (s *sentenceCtx) span(a, b int) string {
	if a >= b {
		return ""
	}
	return s.text[s.ts[a].start:s.ts[b-1].end]
}

func anyIn(words []string, ts []tok) bool {
	for _, t := range ts {
		if contains(words, t.low) {
			return true
		}
	}
	return false
}
