package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/engram-memory/engram"
)

// confirm asks a person to type want before an action that cannot be
// undone. Without a terminal on standard input (a script, a pipe, CI)
// there is nobody to ask, so it refuses: the caller must say --yes.
func confirm(s *ioStreams, in *os.File, want, what string) error {
	if !term.IsTerminal(int(in.Fd())) {
		return &exitError{code: 2, err: errors.New("this cannot be undone and standard input is not a terminal to confirm it: add --yes")}
	}
	fmt.Fprintf(s.err, "%s.\nType the user id to confirm: ", what)
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimRight(line, "\r\n") != want {
		return &exitError{code: 1, err: errors.New("not confirmed; nothing was changed")}
	}
	return nil
}

// printMemory shows one memory for a person; the text and every stored
// string are escaped for the terminal (--json prints them exactly).
func printMemory(s *ioStreams, m *engram.Memory) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id:", safeText(m.ID))
	row("user_id:", safeText(m.UserID))
	row("agent_id:", safeText(m.AgentID))
	row("run_id:", safeText(m.RunID))
	row("created:", m.CreatedAt.Format(time.RFC3339))
	row("updated:", m.UpdatedAt.Format(time.RFC3339))
	if len(m.Metadata) > 0 {
		// JSON escapes C0 controls; safeText catches the rest (C1, bidi).
		b, err := json.Marshal(m.Metadata)
		if err != nil {
			return err
		}
		row("metadata:", safeText(string(b)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The text last and whole: it may span lines.
	_, err := fmt.Fprintf(s.out, "\n%s\n", safeBlock(m.Content))
	return err
}
