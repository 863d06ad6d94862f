package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/engram-memory/engram/client"
)

// report prints a command's error for a person and returns the exit code.
// Every message is prefixed once with "engram:"; text that came from the
// server or the network is escaped like stored text (it reaches a
// terminal).
func report(stderr io.Writer, err error) int {
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code, err = ee.code, ee.err
	}
	fmt.Fprintln(stderr, "engram: "+safeText(describe(err)))
	var ce *client.Error
	if errors.As(err, &ce) {
		// The server's field errors say what to fix; they never hold the
		// offending value.
		for _, f := range ce.Errors {
			loc := f.Location
			if loc == "" {
				loc = "request"
			}
			fmt.Fprintf(stderr, "  %s: %s\n", safeText(loc), safeText(f.Message))
		}
	}
	return code
}

// describe is one line about err, without a doubled "engram:" prefix.
func describe(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		s := fmt.Sprintf("%s (%d): %s", ce.Code, ce.Status, ce.Detail)
		if ce.RequestID != "" {
			s += " (request " + ce.RequestID + ")"
		}
		return s
	}
	var ue *url.Error
	if errors.As(err, &ue) && !errors.Is(err, context.Canceled) {
		return fmt.Sprintf("cannot reach the Engram server at %s (%s). Is it running? Start one with `engram serve`, "+
			"or point ENGRAM_URL (or --url) at yours.", origin(ue.URL), cause(ue.Err))
	}
	return strings.TrimPrefix(err.Error(), "engram: ")
}

// origin is the scheme and host of a request URL: the path and query may
// hold user ids, which have no place in an error message.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the configured URL"
	}
	return u.Scheme + "://" + u.Host
}

// cause is the innermost message of a transport error ("connection
// refused", "no such host"), without the addresses repeated around it.
func cause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	return err.Error()
}
