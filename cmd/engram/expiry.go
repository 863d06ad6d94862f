package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// expiry is a flag value for how long something lasts: a Go duration
// (720h, 90m) or a whole number of days (30d) or weeks (2w), which is how
// people say key lifetimes.
type expiry time.Duration

// UnmarshalText parses the flag (kong calls it).
func (e *expiry) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	var d time.Duration
	if n, unit, ok := dayCount(s); ok {
		if n <= 0 || n > 36500 || n*unit > 36500 {
			return errors.New("the lifetime must be 1 day to 100 years")
		}
		d = time.Duration(n*unit) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return errors.New("want a duration such as 30d, 2w or 720h (units: d, w, h, m, s)")
		}
	}
	if d <= 0 {
		return errors.New("the lifetime must be positive")
	}
	*e = expiry(d)
	return nil
}

// dayCount reads "30d" or "2w": the count and the days per unit.
func dayCount(s string) (n, unit int64, ok bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	switch s[len(s)-1] {
	case 'd':
		unit = 1
	case 'w':
		unit = 7
	default:
		return 0, 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, unit, true
}
