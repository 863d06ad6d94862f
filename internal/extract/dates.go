package extract

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/olebedev/when"
	"github.com/olebedev/when/rules/common"
	"github.com/olebedev/when/rules/en"
)

var months = map[string]time.Month{
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
	"september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}

var numbers = map[string]int{
	"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
	"nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18, "twenty": 20, "thirty": 30,
	"couple": 2,
}

var weekdays = map[string]bool{"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true}

// seasons start on the first day of their first month (meteorological, northern hemisphere).
var seasons = map[string]time.Month{"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}

// units are the lengths "N units ago" and "in N units" count in, as (years, months, days) per unit.
var units = map[string][3]int{
	"day": {0, 0, 1}, "week": {0, 0, 7}, "fortnight": {0, 0, 14}, "month": {0, 1, 0}, "year": {1, 0, 0},
	"decade": {10, 0, 0},
}

// yearParts: "in early 2020" names the year from its start, "mid"/"late" a later month of it.
var yearParts = map[string]time.Month{"early": 1, "mid": 7, "late": 10}

// holidayWords may stand before "Christmas" when it dates the sentence ("over Christmas"); other uses name the
// holiday ("I love Christmas") or a habit ("London at Christmas"), not when something happened.
var holidayWords = nameSet("over,since,last,after")

var whenParser = func() *when.Parser {
	w := when.New(nil)
	w.Add(en.All...)
	w.Add(common.All...)
	return w
}()

// resolveDate finds when a sentence says its fact became (or becomes) true, against ref. A bare month or
// holiday is read as the past ("in May" said in March means last May); "next …", "in N weeks" and
// "tomorrow" as the future. It returns nil when the sentence does not say, or when ref is zero. The rules are
// tried at each word from the left; the first that matches wins, then when (past only) for other day
// expressions.
func resolveDate(ts []tok, sentence string, ref time.Time) *time.Time {
	if ref.IsZero() {
		return nil
	}
	for i := range ts {
		if d := dateAt(ts, i, ref); d != nil {
			return d
		}
	}
	// Fall back on when for weekdays and explicit dates ("on Friday", "3/10/2024"); keep only the past.
	// Only a weekday, a month or a number names a day; "now" or "in the mornings" say the fact holds, not when
	// it began.
	if r, err := whenParser.Parse(sentence, ref); err == nil && r != nil && !r.Time.After(ref) && namesDay(r.Text) {
		return day(r.Time)
	}
	return nil
}

// day is the start of t's day in t's location.
func day(t time.Time) *time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	return &d
}

// date is y-m-d, or nil when there is no such day ("31 February").
func date(y int, m time.Month, d int, loc *time.Location) *time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if t.Day() != d {
		return nil
	}
	return &t
}

// addDate is ref's day moved by y years, m months and d days, a month's end clamped rather than run over:
// a month after 31 March is 30 April, not 1 May.
func addDate(ref time.Time, y, m, d int) *time.Time {
	first := time.Date(ref.Year()+y, ref.Month()+time.Month(m), 1, 0, 0, 0, 0, ref.Location())
	last := first.AddDate(0, 1, -1).Day()
	return day(time.Date(first.Year(), first.Month(), min(ref.Day(), last), 0, 0, 0, 0, ref.Location()).AddDate(0, 0, d))
}

// dateAt reads a date expression starting at (or, for "ago", ending at) ts[i], or returns nil.
func dateAt(ts []tok, i int, ref time.Time) *time.Time {
	w := ts[i].low
	next := func(k int) string {
		if i+k < len(ts) {
			return ts[i+k].low
		}
		return ""
	}
	prev := func(k int) string {
		if i-k >= 0 {
			return ts[i-k].low
		}
		return ""
	}
	loc := ref.Location()
	switch w {
	case "yesterday":
		return day(ref.AddDate(0, 0, -1))
	case "today", "tonight":
		return day(ref)
	case "tomorrow":
		return day(ref.AddDate(0, 0, 1))
	case "day": // "the day before yesterday", "the day after tomorrow"
		switch next(1) + " " + next(2) {
		case "before yesterday":
			return day(ref.AddDate(0, 0, -2))
		case "after tomorrow":
			return day(ref.AddDate(0, 0, 2))
		}
	case "week": // "the week before last"
		if prev(1) == "the" && next(1) == "before" && next(2) == "last" {
			return day(ref.AddDate(0, 0, -14))
		}
	case "this":
		switch next(1) {
		case "morning", "afternoon", "evening":
			return day(ref)
		case "month":
			return date(ref.Year(), ref.Month(), 1, loc)
		case "year":
			return date(ref.Year(), 1, 1, loc)
		case "past":
			if next(2) == "weekend" {
				return saturdayBefore(ref)
			}
			return lastPeriod(ref, next(2), ts, i+2)
		}
	case "last", "past":
		if next(1) == "night" {
			return day(ref.AddDate(0, 0, -1))
		}
		return lastPeriod(ref, next(1), ts, i+1)
	case "next":
		n := next(1)
		switch n {
		case "week":
			return day(ref.AddDate(0, 0, 7))
		case "month":
			return addDate(ref, 0, 1, 0)
		case "year":
			return addDate(ref, 1, 0, 0)
		case "weekend":
			return weekdayAfter(ref, "saturday")
		}
		if weekdays[n] {
			return weekdayAfter(ref, n)
		}
		if m, ok := months[n]; ok && (len(n) > 3 || ts[i+1].cap) {
			y := ref.Year()
			if m <= ref.Month() {
				y++
			}
			return date(y, m, 1, loc)
		}
	case "on":
		if weekdays[next(1)] { // a fact is told after it happened: the most recent such day
			return weekdayBefore(ref, next(1))
		}
		if next(1) == "the" && next(3) != "of" { // "on the 3rd": this month's, or last month's if still to come
			if d, ok := dayOfMonth(next(2)); ok {
				if t := date(ref.Year(), ref.Month(), d, loc); t != nil && !t.After(ref) {
					return t
				}
				return date(ref.Year(), ref.Month()-1, d, loc)
			}
		}
	case "since", "in", "from", "during", "over":
		k := 1
		if next(k) == "the" {
			k++
		}
		if m, ok := yearParts[next(k)]; ok { // "in early 2020"
			if y, ok := year(next(k + 1)); ok {
				return date(y, m, 1, loc)
			}
		}
		// "in the spring of 2019"; a season without a year is often a habit ("I love Paris in the spring"),
		// so only "last spring" dates one.
		if s, ok := seasons[next(k)]; ok {
			j := k + 1
			if next(j) == "of" {
				j++
			}
			if y, ok := year(next(j)); ok {
				return date(y, s, 1, loc)
			}
			return nil
		}
		if m, ok := months[next(1)]; ok {
			if y, ok := year(next(2)); ok {
				return date(y, m, 1, loc)
			}
			if next(2) == "last" && next(3) == "year" {
				return date(ref.Year()-1, m, 1, loc)
			}
			if next(2) == "this" && next(3) == "year" {
				return date(ref.Year(), m, 1, loc)
			}
			short := len(next(1)) <= 3 && next(1) != "may"
			if next(1) == "may" && w != "since" && !ts[i+1].cap || short && !ts[i+1].cap {
				return nil // "in may" lower-case is the verb more often than the month
			}
			if _, isDay := dayOfMonth(next(2)); isDay {
				return nil // "in March 3rd" is read at the month
			}
			return monthBefore(ref, m, true)
		}
		if y, ok := year(next(1)); ok {
			return date(y, 1, 1, loc)
		}
		if w == "in" { // "in two weeks", "in a month": the future
			if d := count(ts, i+1, ref, 1); d != nil {
				return d
			}
		}
	case "ago":
		return countBack(ts, i, ref)
	case "christmas", "xmas":
		if holidayWords[prev(1)] {
			return holidayBefore(ref, 12, 25)
		}
	}
	if m, ok := months[w]; ok && (len(w) > 3 || ts[i].cap) { // "March 3rd", "March 3rd, 2024"
		if d, ok := dayOfMonth(next(1)); ok {
			k := 2
			if next(k) == "," {
				k++
			}
			return monthDay(ref, m, d, next(k))
		}
	}
	if d, ok := dayOfMonth(w); ok { // "3 March 2024", "the 3rd of March"
		k := 1
		if next(k) == "of" {
			k++
		}
		if m, ok := months[next(k)]; ok && (len(next(k)) > 3 || ts[i+k].cap) {
			return monthDay(ref, m, d, next(k+1))
		}
	}
	if len(w) == 10 && w[4] == '-' && w[7] == '-' { // ISO 8601
		if t, err := time.ParseInLocation("2006-01-02", w, loc); err == nil {
			return &t
		}
	}
	return nil
}

// lastPeriod reads what follows "last" or "past" at ts[k]: a unit, the weekend, a month, a weekday, a season or
// a holiday.
func lastPeriod(ref time.Time, w string, ts []tok, k int) *time.Time {
	switch w {
	case "week":
		return day(ref.AddDate(0, 0, -7))
	case "month":
		return addDate(ref, 0, -1, 0)
	case "year":
		return addDate(ref, -1, 0, 0)
	case "weekend": // the weekend before this one: on a Sunday, not yesterday
		s := saturdayBefore(ref)
		if ref.Weekday() == time.Sunday {
			return day(s.AddDate(0, 0, -7))
		}
		return s
	case "christmas", "xmas":
		return holidayBefore(ref, 12, 25)
	}
	if m, ok := months[w]; ok && k < len(ts) && (len(w) > 3 || ts[k].cap) {
		return monthBefore(ref, m, false)
	}
	if weekdays[w] {
		return weekdayBefore(ref, w)
	}
	if s, ok := seasons[w]; ok {
		return seasonBefore(ref, s)
	}
	return nil
}

// countBack reads "N units ago" ending at ts[i] ("ago"): "two weeks", "a couple of months", "two and a half
// years", "half a year", "a fortnight", "a decade".
func countBack(ts []tok, i int, ref time.Time) *time.Time {
	if i < 1 {
		return nil
	}
	u, ok := units[strings.TrimSuffix(ts[i-1].low, "s")]
	if !ok {
		return nil
	}
	// The amount, in halves, read leftwards from the unit.
	word := func(k int) string {
		if k >= 0 {
			return ts[k].low
		}
		return ""
	}
	k := i - 2
	halves := 0
	switch {
	case word(k) == "half" && word(k-1) == "a" && word(k-2) == "and": // "two and a half years"
		n, ok := amount(word(k - 3))
		if !ok {
			return nil
		}
		halves = 2*n + 1
	case word(k) == "a" && word(k-1) == "half": // "half a year"
		halves = 1
	case word(k) == "of" && word(k-1) == "couple": // "a couple of weeks"
		halves = 4
	default:
		n, ok := amount(word(k))
		if !ok {
			return nil
		}
		halves = 2 * n
	}
	return shift(ref, u, halves, -1)
}

// count reads "N units" at ts[k] after "in", for the future: "in two weeks", "in a month".
func count(ts []tok, k int, ref time.Time, sign int) *time.Time {
	if k+1 >= len(ts) {
		return nil
	}
	n, ok := amount(ts[k].low)
	j := k + 1
	if ts[k].low == "a" && ts[k+1].low == "couple" && k+3 < len(ts) && ts[k+2].low == "of" {
		n, ok, j = 2, true, k+3
	}
	if !ok {
		return nil
	}
	u, ok := units[strings.TrimSuffix(ts[j].low, "s")]
	if !ok {
		return nil
	}
	return shift(ref, u, 2*n, sign)
}

// shift moves ref by halves/2 units: half a year is six months, half a month 15 days, half a week 3 days.
func shift(ref time.Time, u [3]int, halves, sign int) *time.Time {
	whole, half := halves/2, halves%2
	y, m, d := u[0]*whole, u[1]*whole, u[2]*whole
	if half == 1 {
		m += u[0] * 6
		d += u[1]*15 + u[2]/2
	}
	return addDate(ref, sign*y, sign*m, sign*d)
}

func amount(w string) (int, bool) {
	if n, ok := numbers[w]; ok {
		return n, true
	}
	n, err := strconv.Atoi(w)
	return n, err == nil && n > 0 && n < 1000
}

func year(w string) (int, bool) {
	y, err := strconv.Atoi(w)
	return y, err == nil && len(w) == 4 && y >= 1900 && y <= 2200
}

// dayOfMonth reads "3", "3rd", "21st" as a day of the month.
func dayOfMonth(w string) (int, bool) {
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		if strings.HasSuffix(w, suf) {
			w = strings.TrimSuffix(w, suf)
			break
		}
	}
	d, err := strconv.Atoi(w)
	return d, err == nil && len(w) <= 2 && d >= 1 && d <= 31
}

// monthDay is day d of month m in year y when it names one, else the most recent such day.
func monthDay(ref time.Time, m time.Month, d int, y string) *time.Time {
	if yy, ok := year(y); ok {
		return date(yy, m, d, ref.Location())
	}
	if t := date(ref.Year(), m, d, ref.Location()); t != nil && !t.After(ref) {
		return t
	}
	return date(ref.Year()-1, m, d, ref.Location())
}

// monthBefore is the first day of the most recent month m at or (when thisMonth) including ref's month.
func monthBefore(ref time.Time, m time.Month, thisMonth bool) *time.Time {
	y := ref.Year()
	if m > ref.Month() || (m == ref.Month() && !thisMonth) {
		y--
	}
	return date(y, m, 1, ref.Location())
}

// seasonBefore is the start of the most recent season s that has begun by ref and is not the one ref is in:
// "last spring" said in April is the spring of the year before.
func seasonBefore(ref time.Time, s time.Month) *time.Time {
	start := time.Date(ref.Year(), s, 1, 0, 0, 0, 0, ref.Location())
	for start.After(ref) {
		start = start.AddDate(-1, 0, 0)
	}
	if ref.Before(start.AddDate(0, 3, 0)) {
		start = start.AddDate(-1, 0, 0)
	}
	return &start
}

// holidayBefore is the most recent m/d at or before ref's day.
func holidayBefore(ref time.Time, m time.Month, d int) *time.Time {
	t := time.Date(ref.Year(), m, d, 0, 0, 0, 0, ref.Location())
	if t.After(ref) {
		t = t.AddDate(-1, 0, 0)
	}
	return &t
}

func weekdayBefore(ref time.Time, name string) *time.Time {
	for k := 1; k <= 7; k++ {
		if t := ref.AddDate(0, 0, -k); strings.EqualFold(t.Weekday().String(), name) {
			return day(t)
		}
	}
	return nil
}

func weekdayAfter(ref time.Time, name string) *time.Time {
	for k := 1; k <= 7; k++ {
		if t := ref.AddDate(0, 0, k); strings.EqualFold(t.Weekday().String(), name) {
			return day(t)
		}
	}
	return nil
}

// saturdayBefore is the most recent Saturday before ref's day: on a Sunday, yesterday.
func saturdayBefore(ref time.Time) *time.Time { return weekdayBefore(ref, "saturday") }

func namesDay(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if _, ok := months[w]; ok || weekdays[w] || (w[0] >= '0' && w[0] <= '9') {
			return true
		}
	}
	return false
}
