package main

import (
	"errors"

	"github.com/engram-memory/engram/internal/auth/apikey"
)

// checkKeyID refuses, before anything is sent, an argument that is not a
// key id: a whole key pasted by mistake would otherwise travel in a URL
// path (and into any proxy's access log). The argument is not echoed.
func checkKeyID(id string) error {
	if apikey.ValidID(id) {
		return nil
	}
	if apikey.Contains(id) {
		return errors.New("that is a whole API key, not a key id: give the ID column of `engram keys list` (never the secret); if the key leaked, revoke it by its id")
	}
	return errors.New("not a key id: give the 12-character ID column of `engram keys list`")
}
