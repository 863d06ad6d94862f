package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/retention"
	"github.com/engram-memory/engram/internal/testserver"
)

// sweepEntries returns the tenant's retention.sweep entries.
func sweepEntries(t *testing.T, c *client.Client) []engram.AuditRecord {
	t.Helper()
	page, err := c.Audit(context.Background(), engram.AuditQuery{Action: engram.AuditRetentionSweep})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

func ids(ms []engram.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// TestMemoryExpiry: a memory past its expiration_date is invisible to
// get, list, search and update at once, and the next sweep deletes it
// with its history, records one audited count and moves the metric.
func TestMemoryExpiry(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "alpha")
	in := s.Clock.Now().Add(time.Hour).UTC().Truncate(time.Second)
	add := func(text, exp string) string {
		t.Helper()
		res, err := owner.Add(ctx, client.AddRequest{Content: text, UserID: "carol", ExpirationDate: exp})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].ID
	}
	brief := add("the door code is 4711 today", in.Format(time.RFC3339))
	dated := add("the door code lasts until the end of next year", in.AddDate(1, 0, 0).Format(time.DateOnly))
	kept := add("the door is blue", "")

	got, err := owner.Get(ctx, brief)
	if err != nil || got.ExpirationDate == nil || !got.ExpirationDate.Equal(in) {
		t.Fatalf("get before expiry: %+v %v", got, err)
	}
	got, _ = owner.Get(ctx, dated)
	wantDay, _ := retention.ParseExpiration(in.AddDate(1, 0, 0).Format(time.DateOnly))
	if got.ExpirationDate == nil || !got.ExpirationDate.Equal(wantDay) {
		t.Fatalf("a date expires at the start of the next day: %v", got.ExpirationDate)
	}
	if got, _ := owner.Get(ctx, kept); got.ExpirationDate != nil {
		t.Fatalf("no expiry given: %v", got.ExpirationDate)
	}

	s.Clock.Advance(2 * time.Hour)
	if _, err := owner.Get(ctx, brief); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("get after expiry: %v", err)
	}
	if _, err := owner.UpdateMemory(ctx, brief, engram.UpdateRequest{Content: "changed"}); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("update after expiry: %v", err)
	}
	list, err := owner.List(ctx, client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if l := ids(list.Results); slices.Contains(l, brief) || !slices.Contains(l, dated) || !slices.Contains(l, kept) {
		t.Fatalf("list after expiry: %v", l)
	}
	hits, err := owner.Search(ctx, client.SearchRequest{Query: "door code", Mode: "bm25", Threshold: client.Threshold(0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.ID == brief {
			t.Fatal("search found an expired memory")
		}
	}
	if len(hits) == 0 {
		t.Fatal("search found nothing: the check above proves nothing")
	}
	if n := len(sweepEntries(t, owner)); n != 0 {
		t.Fatalf("entries before a sweep: %d", n)
	}

	st, err := s.Engine.SweepRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Expired != 1 || st.Aged != 0 || st.Tenants != 1 || st.History != 1 {
		t.Fatalf("sweep: %+v", st)
	}
	if s.Engine.RetentionSwept() != 1 {
		t.Fatalf("metric: %d", s.Engine.RetentionSwept())
	}
	if hs, err := owner.History(ctx, brief); err == nil && len(hs) != 0 {
		t.Fatalf("history outlived the swept memory: %+v", hs)
	}
	es := sweepEntries(t, owner)
	if len(es) != 1 || es[0].Count != 1 || es[0].Outcome != engram.OutcomeSuccess || es[0].TargetID != "expired:1,aged:0,held:0" {
		t.Fatalf("sweep entries: %+v", es)
	}
	// Nothing left to do: no second entry.
	if st, err := s.Engine.SweepRetention(ctx); err != nil || st != (engine.RetentionStats{}) {
		t.Fatalf("second sweep: %+v %v", st, err)
	}
	if n := len(sweepEntries(t, owner)); n != 1 {
		t.Fatalf("entries after an idle sweep: %d", n)
	}

	// An update sets an expiry too; one in the past hides it at once.
	upd, err := owner.UpdateMemory(ctx, kept, engram.UpdateRequest{Content: "the door is blue", ExpirationDate: "2020-01-01"})
	if err != nil || upd.ExpirationDate == nil {
		t.Fatalf("update with expiry: %+v %v", upd, err)
	}
	if _, err := owner.Get(ctx, kept); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("get after a past expiry: %v", err)
	}
}

// TestExpirationDateInvalid: a malformed expiration_date is 400 invalid
// on create and update, and nothing is stored.
func TestExpirationDateInvalid(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "alpha")
	for _, bad := range []string{"tomorrow", "2026-02-30", "31/01/2026", "0001-01-01"} {
		_, err := owner.Add(ctx, client.AddRequest{Content: "x", ExpirationDate: bad})
		if client.Code(err) != engram.CodeInvalid {
			t.Fatalf("add %q: %v", bad, err)
		}
	}
	if l, _ := owner.List(ctx, client.ListRequest{}); len(l.Results) != 0 {
		t.Fatalf("stored: %+v", l.Results)
	}
	res, err := owner.Add(ctx, client.AddRequest{Content: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.UpdateMemory(ctx, res[0].ID, engram.UpdateRequest{Content: "y", ExpirationDate: "soon"}); client.Code(err) != engram.CodeInvalid {
		t.Fatalf("update: %v", err)
	}
	// The wire answer itself: status 400, problem code invalid.
	nt, err := s.Engine.CreateTenant(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	key := nt.Key.Secret
	body, _ := json.Marshal(map[string]any{"content": "x", "expiration_date": "not-a-date"})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/memories", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusBadRequest || p.Code != string(engram.CodeInvalid) {
		t.Fatalf("status %d code %q", resp.StatusCode, p.Code)
	}
}

// TestRetentionPlans: under free a 61-day-old memory is swept and a
// 59-day-old one stays; pro (the default) keeps everything; a tenant
// under a legal hold keeps everything and its entry says so; a hold on
// one user keeps that user's memories only.
func TestRetentionPlans(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	now := s.Clock.Now()
	day := 24 * time.Hour
	type mems struct{ old, young string }
	seed := func(c *client.Client, user string) mems {
		t.Helper()
		var m mems
		for _, x := range []struct {
			id  *string
			age time.Duration
		}{{&m.old, 61 * day}, {&m.young, 59 * day}} {
			at := now.Add(-x.age)
			res, err := c.Add(ctx, client.AddRequest{Content: "visited the dentist " + x.age.String(), UserID: user, Timestamp: &at})
			if err != nil {
				t.Fatal(err)
			}
			*x.id = res[0].ID
		}
		return m
	}
	free, pro, held := s.Tenant(t, "free"), s.Tenant(t, "pro"), s.Tenant(t, "held")
	freeCarol, freeDave := seed(free, "carol"), seed(free, "dave")
	proM, heldM := seed(pro, "carol"), seed(held, "carol")
	freePlan, _ := retention.New(retention.Free, -1)
	for _, name := range []string{"free", "held"} {
		if err := s.Engine.SetRetentionPlan(ctx, name, freePlan); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.Engine.RetentionPlan(ctx, "pro"); err != nil || p != retention.Default || p.Name != retention.Pro {
		t.Fatalf("a tenant that never chose a plan is pro: %+v %v", p, err)
	}
	if _, err := held.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "litigation"}); err != nil {
		t.Fatal(err)
	}
	if _, err := free.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "subpoena", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}

	st, err := s.Engine.SweepRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Aged != 1 || st.Expired != 0 || st.Kept != 2 || st.Held != 2 || st.Tenants != 1 {
		t.Fatalf("sweep: %+v", st)
	}
	exists := func(c *client.Client, id string) bool {
		t.Helper()
		_, err := c.Get(ctx, id)
		if err != nil && client.Code(err) != engram.CodeNotFound {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, c := range []struct {
		what string
		c    *client.Client
		id   string
		want bool
	}{
		{"free, 61 days", free, freeDave.old, false},
		{"free, 59 days", free, freeDave.young, true},
		{"free, 61 days, user held", free, freeCarol.old, true},
		{"free, 59 days, user held", free, freeCarol.young, true},
		{"pro, 61 days", pro, proM.old, true},
		{"pro, 59 days", pro, proM.young, true},
		{"held, 61 days", held, heldM.old, true},
		{"held, 59 days", held, heldM.young, true},
	} {
		if got := exists(c.c, c.id); got != c.want {
			t.Errorf("%s: exists %v, want %v", c.what, got, c.want)
		}
	}
	if es := sweepEntries(t, free); len(es) != 1 || es[0].TargetID != "expired:0,aged:1,held:1" || es[0].Outcome != engram.OutcomeSuccess {
		t.Fatalf("free tenant's entries: %+v", es)
	}
	es := sweepEntries(t, held)
	if len(es) != 1 || es[0].Outcome != engram.OutcomeFailure || es[0].Reason != string(engram.CodeHeld) || es[0].Count != 1 {
		t.Fatalf("held tenant's entries: %+v", es)
	}
	if es := sweepEntries(t, pro); len(es) != 0 {
		t.Fatalf("pro tenant's entries: %+v", es)
	}

	// Two more days: the 59-day-old ones pass the window too.
	s.Clock.Advance(2 * day)
	st, err = s.Engine.SweepRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Aged != 1 || exists(free, freeDave.young) || !exists(pro, proM.young) {
		t.Fatalf("second sweep: %+v", st)
	}
}

// TestRetentionEpisodeTexts: under a plan with a window, the sweep
// discards the messages of episodes older than it (the episode itself
// stays readable; the memories it made age like any other), keeps those of a held user and of a younger
// episode, and leaves a pro tenant's alone; the entry counts them.
func TestRetentionEpisodeTexts(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	day := 24 * time.Hour
	observe := func(c *client.Client, user string) *engram.Episode {
		t.Helper()
		ep, err := c.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: user},
			Messages: []engram.ObserveMessage{{Role: "user", Content: "I moved to Lisbon and I adopted a cat named Miso."}}})
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	free, pro := s.Tenant(t, "free"), s.Tenant(t, "pro")
	oldDave, oldCarol, oldPro := observe(free, "dave"), observe(free, "carol"), observe(pro, "dave")
	s.Clock.Advance(2 * day)
	youngDave := observe(free, "dave")
	freePlan, _ := retention.New(retention.Free, -1)
	if err := s.Engine.SetRetentionPlan(ctx, "free", freePlan); err != nil {
		t.Fatal(err)
	}
	if _, err := free.CreateAuditHold(ctx, engram.AuditHoldRequest{ReasonCode: "subpoena", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}
	hasText := func(c *client.Client, ep *engram.Episode) bool {
		t.Helper()
		got, err := c.Episode(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(got.Messages) > 0
	}
	for _, ep := range []*engram.Episode{oldDave, oldCarol, youngDave} {
		if !hasText(free, ep) {
			t.Fatal("control: an episode has no text before the sweep")
		}
	}
	s.Clock.Advance(59 * day) // the first three are 61 days old, the last 59
	st, err := s.Engine.SweepRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// dave's old memory ages out; carol's memory and text are held.
	if st.EpisodeTexts != 1 || st.Aged != 1 || st.Kept != 2 || st.Tenants != 1 {
		t.Fatalf("sweep: %+v", st)
	}
	for _, c := range []struct {
		what string
		c    *client.Client
		ep   *engram.Episode
		want bool
	}{
		{"free, 61 days", free, oldDave, false},
		{"free, 61 days, user held", free, oldCarol, true},
		{"free, 59 days", free, youngDave, true},
		{"pro, 61 days", pro, oldPro, true},
	} {
		if got := hasText(c.c, c.ep); got != c.want {
			t.Errorf("%s: has text %v, want %v", c.what, got, c.want)
		}
	}
	if es := sweepEntries(t, free); len(es) != 1 || es[0].TargetID != "expired:0,aged:1,held:2,episode_texts:1" {
		t.Fatalf("free tenant's entries: %+v", es)
	}
}
