package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// readVerifierKeys reads a file of checkpoint verifier keys in any of the
// forms an operator hands out: the output of `engram audit key --all`
// (version, state, key per line), one key per line, or the JSON answer of
// GET /v1/audit/keys. Blank lines and lines starting with # are skipped.
// "-" reads standard input.
func readVerifierKeys(path string) ([]string, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	// Keys are short; a keys file of more than 1 MiB is not one.
	raw, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	var keys []string
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var doc struct {
			Results []struct {
				VerifierKey string `json:"verifier_key"`
			} `json:"results"`
		}
		if err := json.Unmarshal(t, &doc); err != nil {
			return nil, fmt.Errorf("keys file: not the JSON of GET /v1/audit/keys: %w", err)
		}
		for _, r := range doc.Results {
			if r.VerifierKey != "" {
				keys = append(keys, r.VerifierKey)
			}
		}
	} else {
		for _, line := range strings.Split(string(raw), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			// The key is the last field: "2<TAB>current<TAB>KEY" or "KEY".
			keys = append(keys, fields[len(fields)-1])
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys file %s holds no verifier key", path)
	}
	return keys, nil
}
