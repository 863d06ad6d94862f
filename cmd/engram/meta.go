package main

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
)

// metaValue gives a --meta value the JSON type it reads as, so that a
// numeric filter ({"km": {"gte": 3}}) finds `--meta km=5`:
//
//   - a JSON number (5, -2.5, 1e3) is stored as a number; an integer
//     beyond ±2^53, which a JSON number (a float64) cannot hold exactly,
//     stays a string, as does anything that is not JSON's number grammar
//     (02134, +5, 0x10, 1_000, NaN);
//   - true and false are stored as booleans;
//   - a JSON string literal ("5", "true") is stored as that string without
//     its quotes: the way to keep a value that looks like a number a
//     string;
//   - anything else (null included) is stored verbatim as a string.
func metaValue(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal([]byte(s), &str); err == nil {
			return str
		}
		return s
	}
	if !jsonNumber.MatchString(s) {
		return s
	}
	if integer.MatchString(s) {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || i > 1<<53 || i < -(1<<53) {
			return s // an integer a float64 would round
		}
		return float64(i)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return s
	}
	return f
}

// jsonNumber is JSON's number grammar (RFC 8259, section 6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

var integer = regexp.MustCompile(`^-?[0-9]+$`)

// metadata turns the --meta pairs into a metadata object (nil when none).
func metadata(pairs map[string]string) map[string]any {
	if len(pairs) == 0 {
		return nil
	}
	md := make(map[string]any, len(pairs))
	for k, v := range pairs {
		md[k] = metaValue(v)
	}
	return md
}
