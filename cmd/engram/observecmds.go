package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/engram-memory/engram"
)

// Client commands for Observe: observe a conversation, read and forget
// entities, list and search facts. Each is one call of the Go client.

type observeCmd struct {
	File string `arg:"" optional:"" default:"-" help:"A JSON file of messages: [{\"role\",\"content\",\"name\"?,\"timestamp\"?}, …] or {\"messages\": […]}. '-' (the default) reads standard input."`
	clientFlags
	scopeFlags
}

func (c *observeCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	msgs, err := readMessages(c.File)
	if err != nil {
		return err
	}
	ep, err := cl.Observe(ctx, engram.ObserveRequest{Messages: msgs, Scope: engram.Scope{UserID: c.User, AgentID: c.Agent, RunID: c.RunID}})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, ep)
	}
	fmt.Fprintf(s.out, "episode %s: %s\n", safeText(ep.ID), safeText(ep.Status))
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	for _, e := range ep.Entities {
		fmt.Fprintf(tw, "entity\t%s\t%s\t%s\t%s\n", safeText(e.Event), oneLine(e.ID), oneLine(e.Type), oneLine(e.Name))
	}
	for _, f := range ep.Facts {
		fmt.Fprintf(tw, "fact\t%s\t%s\t\t%s\n", safeText(f.Event), oneLine(f.ID), oneLine(f.Fact))
	}
	return tw.Flush()
}

// readMessages reads a conversation from a file or standard input: a JSON
// array of messages, or an object with a "messages" array.
func readMessages(name string) ([]engram.ObserveMessage, error) {
	f := os.Stdin
	if name != "-" {
		var err error
		if f, err = os.Open(name); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	raw, err := readAllLimited(f, engram.MaxBodyBytes+1)
	if err != nil {
		return nil, err
	}
	var msgs []engram.ObserveMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		var obj struct {
			Messages []engram.ObserveMessage `json:"messages"`
		}
		if json.Unmarshal(raw, &obj) != nil || obj.Messages == nil {
			return nil, errors.New(`the input is not a JSON array of messages nor an object with "messages"`)
		}
		msgs = obj.Messages
	}
	return msgs, nil
}

type entitiesCmd struct {
	List   entitiesListCmd   `cmd:"" help:"List entities."`
	Get    entitiesGetCmd    `cmd:"" help:"Show an entity with its facts."`
	Forget entitiesForgetCmd `cmd:"" help:"Forget an entity: destroy its key, delete its facts and mentions."`
}

type entitiesListCmd struct {
	Type   string `name:"type" help:"Only entities of this type (person, organisation, place, …)."`
	Query  string `name:"query" short:"q" help:"Entities named like this."`
	Limit  int    `name:"limit" short:"n" default:"20" help:"Page size."`
	Cursor string `name:"cursor" help:"Continue after a previous page."`
	User   string `name:"user" short:"u" help:"user_id scope."`
	clientFlags
}

func (c *entitiesListCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	l, err := cl.ListEntities(ctx, engram.EntityQuery{UserID: c.User, Type: c.Type, Query: c.Query, Limit: c.Limit, Cursor: c.Cursor})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, l)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tMENTIONS\tNAME\tALIASES")
	for _, e := range l.Results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", oneLine(e.ID), oneLine(e.Type), e.Mentions, oneLine(e.Name), oneLine(strings.Join(e.Aliases, ", ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.NextCursor != "" {
		fmt.Fprintf(s.out, "\nmore: --cursor %s\n", safeText(l.NextCursor))
	}
	return nil
}

type entitiesGetCmd struct {
	ID string `arg:"" help:"Entity id."`
	clientFlags
}

func (c *entitiesGetCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	e, err := cl.GetEntity(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, e)
	}
	fmt.Fprintf(s.out, "%s  %s  %s\n", oneLine(e.ID), oneLine(e.Type), oneLine(e.Name))
	if len(e.Aliases) > 0 {
		fmt.Fprintf(s.out, "aliases: %s\n", oneLine(strings.Join(e.Aliases, ", ")))
	}
	for _, o := range e.Observations {
		fmt.Fprintf(s.out, "- %s\n", oneLine(o))
	}
	return printFacts(s, e.Facts)
}

type entitiesForgetCmd struct {
	ID  string `arg:"" help:"Entity id."`
	Yes bool   `name:"yes" help:"Do not ask for confirmation (needed when standard input is not a terminal)."`
	clientFlags
}

func (c *entitiesForgetCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if !c.Yes {
		if err := confirm(s, os.Stdin, c.ID, fmt.Sprintf("Forget entity %s: destroy its key and delete its facts and mentions, for good", safeText(c.ID))); err != nil {
			return err
		}
	}
	r, err := cl.ForgetEntity(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, r)
	}
	fmt.Fprintf(s.out, "forgot entity %s: %d facts and %d mentions deleted, %d data key(s) destroyed\n", safeText(r.EntityID), r.Facts, r.Mentions, r.Keys)
	return nil
}

type factsCmd struct {
	List   factsListCmd   `cmd:"" help:"List facts: the current ones, those true at --as-of, or --all."`
	Search factsSearchCmd `cmd:"" help:"Search facts."`
}

// asOf is a point in time given as RFC 3339 or a date (midnight UTC).
type asOf string

func (a asOf) time() (*time.Time, error) {
	if a == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, string(a)); err == nil {
			return &t, nil
		}
	}
	return nil, errors.New("--as-of takes a date (2024-03-01) or an RFC 3339 time (2024-03-01T12:00:00Z)")
}

type factsListCmd struct {
	User      string `name:"user" short:"u" help:"user_id scope."`
	Entity    string `name:"entity" help:"Facts about this entity id."`
	Predicate string `name:"predicate" help:"Only this predicate (lives_in, works_at, …)."`
	AsOf      asOf   `name:"as-of" placeholder:"TIME" help:"The facts true at this date or RFC 3339 time."`
	All       bool   `name:"all" help:"Also the facts no longer true."`
	Limit     int    `name:"limit" short:"n" default:"50" help:"At most this many facts."`
	clientFlags
}

func (c *factsListCmd) Run(ctx context.Context, s *ioStreams) error {
	at, err := c.AsOf.time()
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	fs, err := cl.Facts(ctx, engram.FactQuery{UserID: c.User, EntityID: c.Entity, Predicate: c.Predicate, AsOf: at, IncludeInvalid: c.All, Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": fs})
	}
	return printFacts(s, fs)
}

type factsSearchCmd struct {
	Query string `arg:"" help:"What to look for."`
	User  string `name:"user" short:"u" help:"user_id scope."`
	AsOf  asOf   `name:"as-of" placeholder:"TIME" help:"Search the facts true at this date or RFC 3339 time."`
	Limit int    `name:"limit" short:"n" default:"10" help:"Results to show."`
	clientFlags
}

func (c *factsSearchCmd) Run(ctx context.Context, s *ioStreams) error {
	at, err := c.AsOf.time()
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	fs, err := cl.SearchFacts(ctx, engram.FactSearch{Query: c.Query, UserID: c.User, AsOf: at, Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": fs})
	}
	return printFacts(s, fs)
}

func printFacts(s *ioStreams, fs []engram.Fact) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVALID\tUNTIL\tFACT")
	for _, f := range fs {
		until := "-"
		if f.InvalidAt != nil {
			until = f.InvalidAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(f.ID), f.ValidAt.Format(time.RFC3339), until, oneLine(f.Fact))
	}
	return tw.Flush()
}
