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
	"nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "couple": 2,
}

var weekdays = map[string]bool{"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true}

var whenParser = func() *when.Parser {
	w := when.New(nil)
	w.Add(en.All...)
	w.Add(common.All...)
	return w
}()

// resolveDate finds when a sentence says its fact became true, against ref. It reads the past: "in May" said in
// March means last May. It returns nil when the sentence does not say, or when ref is zero.
func resolveDate(ts []tok, sentence string, ref time.Time) *time.Time {
	if ref.IsZero() {
		return nil
	}
	day := func(t time.Time) *time.Time {
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
		return &d
	}
	for i := range ts {
		w := ts[i].low
		next := func(k int) string {
			if i+k < len(ts) {
				return ts[i+k].low
			}
			return ""
		}
		switch w {
		case "yesterday":
			return day(ref.AddDate(0, 0, -1))
		case "today", "tonight":
			return day(ref)
		case "last", "past":
			switch next(1) {
			case "week":
				return day(ref.AddDate(0, 0, -7))
			case "month":
				return day(ref.AddDate(0, -1, 0))
			case "year":
				return day(ref.AddDate(-1, 0, 0))
			case "weekend":
				return day(ref.AddDate(0, 0, -((int(ref.Weekday())+1)%7 + 1)))
			}
			if m, ok := months[next(1)]; ok && (len(next(1)) > 3 || ts[i+1].cap) {
				return monthBefore(ref, m, false)
			}
			if weekdays[next(1)] {
				return weekdayBefore(ref, next(1))
			}
		case "on":
			if weekdays[next(1)] { // a fact is told after it happened: the most recent such day
				return weekdayBefore(ref, next(1))
			}
		case "since", "in", "from", "during":
			if m, ok := months[next(1)]; ok && (len(next(1)) > 3 || next(1) == "may") {
				if y, err := strconv.Atoi(next(2)); err == nil && y >= 1900 && y <= 2200 {
					d := time.Date(y, m, 1, 0, 0, 0, 0, ref.Location())
					return &d
				}
				if next(1) == "may" && w != "since" && !ts[i+1].cap {
					continue // "in may" lower-case is the verb more often than the month
				}
				return monthBefore(ref, m, true)
			}
			if y, err := strconv.Atoi(next(1)); err == nil && y >= 1900 && y <= 2200 && len(next(1)) == 4 {
				d := time.Date(y, 1, 1, 0, 0, 0, 0, ref.Location())
				return &d
			}
		case "ago":
			if i >= 2 {
				n, ok := numbers[ts[i-2].low]
				if v, err := strconv.Atoi(ts[i-2].low); err == nil {
					n, ok = v, true
				}
				if !ok {
					continue
				}
				switch strings.TrimSuffix(ts[i-1].low, "s") {
				case "day":
					return day(ref.AddDate(0, 0, -n))
				case "week":
					return day(ref.AddDate(0, 0, -7*n))
				case "month":
					return day(ref.AddDate(0, -n, 0))
				case "year":
					return day(ref.AddDate(-n, 0, 0))
				}
			}
		}
	}
	// Fall back on when for weekdays and explicit dates ("on Friday", "March 3rd"); keep only the past.
	// Only a weekday, a month or a number names a day; "now" or "in the mornings" say the fact holds, not when
	// it began.
	if r, err := whenParser.Parse(sentence, ref); err == nil && r != nil && !r.Time.After(ref) && namesDay(r.Text) {
		return day(r.Time)
	}
	return nil
}

// monthBefore is the first day of the most recent month m at or (when thisMonth) including ref's month.
func monthBefore(ref time.Time, m time.Month, thisMonth bool) *time.Time {
	y := ref.Year()
	if m > ref.Month() || (m == ref.Month() && !thisMonth) {
		y--
	}
	d := time.Date(y, m, 1, 0, 0, 0, 0, ref.Location())
	return &d
}

func weekdayBefore(ref time.Time, name string) *time.Time {
	for k := 1; k <= 7; k++ {
		t := ref.AddDate(0, 0, -k)
		if strings.EqualFold(t.Weekday().String(), name) {
			d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
			return &d
		}
	}
	return nil
}

func namesDay(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if _, ok := months[w]; ok || weekdays[w] || (w[0] >= '0' && w[0] <= '9') {
			return true
		}
	}
	return false
}
