package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
)

// clientFlags reach a running server.
// The key is read from ENGRAM_API_KEY; the flag exists for completeness,
// and its help says to prefer the variable (flags show up in process
// lists).
type clientFlags struct {
	URL    string `name:"url" env:"ENGRAM_URL" default:"http://127.0.0.1:8420" help:"Engram server URL."`
	APIKey string `name:"api-key" env:"ENGRAM_API_KEY" placeholder:"KEY" help:"API key. Set ENGRAM_API_KEY instead: flags show up in process lists."`
	JSON   bool   `name:"json" help:"Print the server's answer as JSON (exact, unescaped)."`
}

func (f *clientFlags) client() (*client.Client, error) {
	if f.APIKey == "" {
		return nil, errors.New("set ENGRAM_API_KEY to an API key (for a local server: export ENGRAM_API_KEY=$(cat engram-data/admin.key))")
	}
	return client.New(f.URL, f.APIKey), nil
}

type scopeFlags struct {
	User  string `name:"user" short:"u" help:"user_id scope."`
	Agent string `name:"agent" help:"agent_id scope."`
	RunID string `name:"run" help:"run_id scope."`
}

func printJSON(s *ioStreams, v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

type addCmd struct {
	Text     string            `arg:"" help:"The memory text ('-' reads standard input)."`
	Metadata map[string]string `name:"meta" short:"m" help:"Metadata key=value (repeatable). Numbers and true/false are stored as JSON numbers and booleans; quote a value as JSON to keep it a string: key='\"5\"'."`
	clientFlags
	scopeFlags
}

func (c *addCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	text := c.Text
	if text == "-" {
		b, err := readAllLimited(os.Stdin, engram.MaxContentBytes+1)
		if err != nil {
			return err
		}
		text = string(b)
	}
	res, err := cl.Add(ctx, client.AddRequest{Content: text, UserID: c.User, AgentID: c.Agent, RunID: c.RunID, Metadata: metadata(c.Metadata)})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": res})
	}
	for _, r := range res {
		fmt.Fprintf(s.out, "%s\t%s\n", r.Event, safeText(r.ID))
	}
	return nil
}

func readAllLimited(f *os.File, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, int64(max)))
	if err != nil {
		return nil, err
	}
	if len(b) >= max {
		return nil, fmt.Errorf("input is longer than %d bytes", max-1)
	}
	return b, nil
}

type searchCmd struct {
	Query string `arg:"" help:"What to look for."`
	Limit int    `name:"limit" short:"n" default:"10" help:"Results to show."`
	// A pointer: absent asks for the server's default.
	Threshold *float64 `name:"threshold" help:"Drop results scoring below this, in [0, 1] (default: the server's, 0.25; 0 shows every result)."`
	clientFlags
	scopeFlags
}

func (c *searchCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	hits, err := cl.Search(ctx, client.SearchRequest{Query: c.Query, UserID: c.User, AgentID: c.Agent, RunID: c.RunID, Limit: c.Limit, Threshold: c.Threshold})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": hits})
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tID\tMEMORY")
	for _, h := range hits {
		fmt.Fprintf(tw, "%.3f\t%s\t%s\n", h.Score, oneLine(h.ID), oneLine(h.Content))
	}
	return tw.Flush()
}

type listCmd struct {
	Limit  int    `name:"limit" short:"n" default:"20" help:"Page size."`
	Cursor string `name:"cursor" help:"Continue after a previous page."`
	clientFlags
	scopeFlags
}

func (c *listCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	res, err := cl.List(ctx, client.ListRequest{Scope: engram.Scope{UserID: c.User, AgentID: c.Agent, RunID: c.RunID}, Limit: c.Limit, Cursor: c.Cursor})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, res)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tUSER\tMEMORY")
	for _, m := range res.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", oneLine(m.ID), m.CreatedAt.Format(time.RFC3339), oneLine(m.UserID), oneLine(m.Content))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.NextCursor != "" {
		fmt.Fprintf(s.out, "\nmore: --cursor %s\n", safeText(res.NextCursor))
	}
	return nil
}

type getCmd struct {
	ID string `arg:"" help:"Memory id."`
	clientFlags
}

func (c *getCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	m, err := cl.Get(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, m)
	}
	return printMemory(s, m)
}

type updateCmd struct {
	ID   string `arg:"" help:"Memory id."`
	Text string `arg:"" help:"The new text."`
	clientFlags
}

func (c *updateCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	m, err := cl.Update(ctx, c.ID, c.Text, nil)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, m)
	}
	return printMemory(s, m)
}

type deleteCmd struct {
	ID string `arg:"" help:"Memory id."`
	clientFlags
}

func (c *deleteCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.Delete(ctx, c.ID); err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"id": c.ID, "deleted": true})
	}
	fmt.Fprintln(s.out, "deleted", safeText(c.ID))
	return nil
}

type historyCmd struct {
	ID string `arg:"" help:"Memory id."`
	clientFlags
}

func (c *historyCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	h, err := cl.History(ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": h})
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tOLD\tNEW")
	for _, e := range h {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.CreatedAt.Format(time.RFC3339), e.Event, oneLine(e.OldMemory), oneLine(e.NewMemory))
	}
	return tw.Flush()
}

type keysCmd struct {
	Create keysCreateCmd `cmd:"" help:"Create an API key; prints the secret once."`
	List   keysListCmd   `cmd:"" help:"List API keys."`
	Revoke keysRevokeCmd `cmd:"" help:"Revoke an API key."`
	Rotate keysRotateCmd `cmd:"" help:"Rotate a tenant's encryption keys and re-encrypt its records (offline, against --data)."`
}

type keysCreateCmd struct {
	Name    string   `arg:"" help:"A label for the key."`
	Scopes  []string `name:"scope" help:"Scope to grant (repeatable): memories:read, memories:write, keys:admin, audit:read, audit:hold, users:forget (only scopes the calling key holds). Default: the caller's."`
	Expires expiry   `name:"expires-in" placeholder:"DURATION" help:"Expire the key after this long: days (30d), weeks (2w) or a Go duration (720h)."`
	clientFlags
}

func (c *keysCreateCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	req := client.CreateKeyRequest{Name: c.Name}
	for _, s := range c.Scopes {
		req.Scopes = append(req.Scopes, engram.Permission(s))
	}
	if c.Expires > 0 {
		t := time.Now().Add(time.Duration(c.Expires))
		req.ExpiresAt = &t
	}
	k, err := cl.CreateKey(ctx, req)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, k)
	}
	fmt.Fprintln(s.out, k.Secret)
	fmt.Fprintf(s.err, "created key %s (%s); the secret above is shown only once\n", safeText(k.ID), safeText(k.Prefix))
	return nil
}

type keysListCmd struct{ clientFlags }

func (c *keysListCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ks, err := cl.ListKeys(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"results": ks})
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tEXPIRES\tSTATE")
	for _, k := range ks {
		exp, state := "-", "active"
		if k.ExpiresAt != nil {
			exp = k.ExpiresAt.Format(time.RFC3339)
			if time.Now().After(*k.ExpiresAt) {
				state = "expired"
			}
		}
		if k.RevokedAt != nil {
			state = "revoked"
		}
		scopes := make([]string, len(k.Scopes))
		for i, s := range k.Scopes {
			scopes[i] = string(s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", oneLine(k.ID), oneLine(k.Name), oneLine(k.Prefix), oneLine(strings.Join(scopes, ",")), exp, state)
	}
	return tw.Flush()
}

type keysRevokeCmd struct {
	ID string `arg:"" help:"Key id."`
	clientFlags
}

func (c *keysRevokeCmd) Run(ctx context.Context, s *ioStreams) error {
	if err := checkKeyID(c.ID); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.RevokeKey(ctx, c.ID); err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, map[string]any{"id": c.ID, "revoked": true})
	}
	fmt.Fprintln(s.out, "revoked", safeText(c.ID))
	return nil
}

type forgetCmd struct {
	User string `arg:"" help:"The user_id to forget."`
	Yes  bool   `name:"yes" help:"Do not ask for confirmation (needed when standard input is not a terminal)."`
	clientFlags
}

func (c *forgetCmd) Run(ctx context.Context, s *ioStreams) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if !c.Yes {
		if err := confirm(s, os.Stdin, c.User,
			fmt.Sprintf("Forget user %q: destroy their key and delete every memory and history entry about them, for good", c.User)); err != nil {
			return err
		}
	}
	r, err := cl.ForgetUser(ctx, c.User)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(s, r)
	}
	fmt.Fprintf(s.out, "forgot user %s: %d memories and %d history entries deleted, %d data key(s) destroyed\n", safeText(c.User), r.Memories, r.History, r.Keys)
	return nil
}
