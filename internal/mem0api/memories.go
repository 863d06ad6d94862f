package mem0api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/engram-memory/engram"
)

// ping answers the check every mem0 client makes when it starts. The key
// was verified by the authentication in front; "status": "ok" is what the
// client accepts. org_id is the tenant; there are no projects or e-mails.
func (s *server) ping(w http.ResponseWriter, r *http.Request) error {
	p := engram.PrincipalFrom(r.Context())
	if p == nil {
		return engram.Errorf(engram.CodeUnauthenticated, "authentication required")
	}
	return reply(w, http.StatusOK, map[string]any{
		"status": "ok", "message": "API key is valid", "org_id": p.TenantID, "project_id": nil, "user_email": nil,
	})
}

// entityFields are the scope ids mem0 accepts at the top level of a body.
type entityFields struct {
	UserID  string `json:"user_id"`
	AgentID string `json:"agent_id"`
	AppID   string `json:"app_id"`
	RunID   string `json:"run_id"`
}

func (e entityFields) scope() (engram.Scope, error) {
	if e.AppID != "" {
		return engram.Scope{}, invalid("app_id is not supported: Engram scopes memories by user_id, agent_id and run_id")
	}
	return engram.Scope{UserID: e.UserID, AgentID: e.AgentID, RunID: e.RunID}, nil
}

type addBody struct {
	// Messages is a list of {role, content} or one string.
	Messages       json.RawMessage `json:"messages"`
	Metadata       map[string]any  `json:"metadata"`
	Infer          *bool           `json:"infer"`
	Timestamp      *float64        `json:"timestamp"`
	ExpirationDate *string         `json:"expiration_date"`
	EnableGraph    bool            `json:"enable_graph"`
	entityFields
}

// messages decodes mem0's messages: a string, or turns whose content is
// text (multimodal parts are refused: Engram stores text).
func (b *addBody) messages() ([]engram.Message, error) {
	var text string
	if json.Unmarshal(b.Messages, &text) == nil {
		return []engram.Message{{Role: "user", Content: text}}, nil
	}
	var turns []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b.Messages, &turns); err != nil || len(turns) == 0 {
		return nil, invalid("messages must be a non-empty list of {role, content}")
	}
	out := make([]engram.Message, len(turns))
	for i, t := range turns {
		out[i].Role = t.Role
		if err := json.Unmarshal(t.Content, &out[i].Content); err != nil {
			return nil, invalid("messages[%d].content must be text: Engram does not store images or documents", i)
		}
	}
	return out, nil
}

// add stores each message as a memory, synchronously: mem0's v3 add
// queues the work and returns an event to poll, Engram has committed it
// when it answers, so the answer is SUCCEEDED with the results inline.
// infer is accepted and ignored: Engram stores the text as given.
func (s *server) add(w http.ResponseWriter, r *http.Request) error {
	var b addBody
	if err := decode(r, &b); err != nil {
		return err
	}
	scope, err := b.scope()
	if err != nil {
		return err
	}
	switch {
	case b.EnableGraph:
		return invalid("enable_graph is not supported: Engram has no graph memory")
	}
	msgs, err := b.messages()
	if err != nil {
		return err
	}
	req := engram.AddRequest{Messages: msgs, Scope: scope, Metadata: b.Metadata, IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if b.ExpirationDate != nil {
		req.ExpirationDate = *b.ExpirationDate
	}
	if b.Timestamp != nil {
		if *b.Timestamp < 0 || *b.Timestamp > maxTimestamp {
			return invalid("timestamp must be Unix seconds")
		}
		t := time.Unix(0, int64(*b.Timestamp*1e9)).UTC()
		req.Timestamp = &t
	}
	res, err := s.mem.Add(r.Context(), req)
	if err != nil {
		return err
	}
	out := make([]addResult, len(res))
	for i, x := range res {
		out[i] = addResult{ID: x.ID, Event: event(x.Event), Memory: x.Content}
		out[i].Data.Memory = x.Content
	}
	return reply(w, http.StatusOK, map[string]any{
		"message": "memories stored", "status": "SUCCEEDED", "event_id": nil, "results": out,
	})
}

// maxTimestamp (Unix seconds, year 2286) keeps the conversion to
// nanoseconds from overflowing; the engine judges what is sane.
const maxTimestamp = 1e10

type searchBody struct {
	Query    string         `json:"query"`
	Filters  map[string]any `json:"filters"`
	Metadata map[string]any `json:"metadata"`
	TopK     int            `json:"top_k"`
	Limit    int            `json:"limit"`
	// Threshold is Engram's absolute score threshold (nil: its default).
	Threshold *float64 `json:"threshold"`
	entityFields
}

// search runs Engram's hybrid search. Scope ids may come at the top level
// (older clients) or in filters; top-level metadata is equality on
// metadata keys. threshold is Engram's absolute score threshold.
func (s *server) search(w http.ResponseWriter, r *http.Request) error {
	var b searchBody
	if err := decode(r, &b); err != nil {
		return err
	}
	top, err := b.scope()
	if err != nil {
		return err
	}
	scope, filters, err := splitFilters(b.Filters)
	if err != nil {
		return err
	}
	if scope, err = merge(scope, top); err != nil {
		return err
	}
	for k, v := range b.Metadata {
		filters = and(filters, map[string]any{k: v})
	}
	if len(filters) == 0 {
		filters = nil
	}
	limit := b.TopK
	if limit == 0 {
		limit = b.Limit
	}
	hits, err := s.mem.Search(r.Context(), engram.SearchRequest{Query: b.Query, Scope: scope, Filters: filters, Limit: limit, Threshold: b.Threshold})
	if err != nil {
		return err
	}
	out := make([]memory, len(hits))
	for i := range hits {
		out[i] = toMemory(&hits[i].Memory)
		out[i].Score = &hits[i].Score
	}
	return reply(w, http.StatusOK, map[string]any{"results": out})
}

// and adds one more condition to filters without overwriting a key.
func and(filters, cond map[string]any) map[string]any {
	if filters == nil {
		filters = map[string]any{}
	}
	list, _ := filters["AND"].([]any)
	filters["AND"] = append(list, cond)
	return filters
}

// merge combines scope ids given in two places; both must agree.
func merge(a, b engram.Scope) (engram.Scope, error) {
	pick := func(name, x, y string) (string, error) {
		if x != "" && y != "" && x != y {
			return "", invalid("%s is given twice with different values", name)
		}
		if x == "" {
			return y, nil
		}
		return x, nil
	}
	var err error
	if a.UserID, err = pick("user_id", a.UserID, b.UserID); err != nil {
		return a, err
	}
	if a.AgentID, err = pick("agent_id", a.AgentID, b.AgentID); err != nil {
		return a, err
	}
	a.RunID, err = pick("run_id", a.RunID, b.RunID)
	return a, err
}

// list answers getAll: POST /v3/memories/?page=N&page_size=S with filters
// in the body. Engram lists by cursor, newest first; page N is reached by
// walking the N-1 pages before it. Filters may only select the scope.
func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Filters map[string]any `json:"filters"`
		entityFields
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	top, err := b.scope()
	if err != nil {
		return err
	}
	scope, rest, err := splitFilters(b.Filters)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return invalid("listing filters by user_id, agent_id and run_id only; use search for other filters")
	}
	if scope, err = merge(scope, top); err != nil {
		return err
	}
	num, err := intParam(r.URL.Query(), "page", 1, 1, 1000)
	if err != nil {
		return err
	}
	size, err := intParam(r.URL.Query(), "page_size", engram.DefaultListLimit, 1, engram.MaxListLimit)
	if err != nil {
		return err
	}
	cursor := ""
	var res *engram.ListResult
	seen := 0
	for i := 1; i <= num; i++ {
		if res, err = s.mem.List(r.Context(), engram.ListRequest{Scope: scope, Limit: size, Cursor: cursor}); err != nil {
			return err
		}
		seen += len(res.Memories)
		if cursor = res.NextCursor; cursor == "" && i < num {
			res = &engram.ListResult{Memories: []engram.Memory{}}
			break
		}
	}
	out := page[memory]{Count: seen, Results: make([]memory, len(res.Memories))}
	for i := range res.Memories {
		out.Results[i] = toMemory(&res.Memories[i])
	}
	if res.NextCursor != "" {
		out.Next = pageURL(r, num+1, size)
		// The total is unknown until the last page: count is a lower bound.
		out.Count++
	}
	if num > 1 {
		out.Previous = pageURL(r, num-1, size)
	}
	return reply(w, http.StatusOK, out)
}

func pageURL(r *http.Request, num, size int) *string {
	u := url.URL{Path: r.URL.Path, RawQuery: url.Values{"page": {strconv.Itoa(num)}, "page_size": {strconv.Itoa(size)}}.Encode()}
	s := u.String()
	return &s
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	m, err := s.mem.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, toMemory(m))
}

// update replaces a memory's text and/or metadata. Without text the
// current text is kept, which needs reading it (memories:read).
func (s *server) update(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Text           *string        `json:"text"`
		Metadata       map[string]any `json:"metadata"`
		Timestamp      any            `json:"timestamp"`
		ExpirationDate *string        `json:"expiration_date"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	switch {
	case b.Timestamp != nil:
		return invalid("timestamp cannot be changed after a memory is stored")
	case b.Text == nil && b.Metadata == nil && (b.ExpirationDate == nil || *b.ExpirationDate == ""):
		return invalid("text, metadata or expiration_date is required")
	}
	id := r.PathValue("id")
	req := engram.UpdateRequest{Metadata: b.Metadata}
	if b.ExpirationDate != nil {
		req.ExpirationDate = *b.ExpirationDate
	}
	if b.Text != nil {
		req.Content = *b.Text
	} else {
		cur, err := s.mem.Get(r.Context(), id)
		if err != nil {
			return err
		}
		req.Content = cur.Content
	}
	m, err := s.mem.Update(r.Context(), id, req)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, toMemory(m))
}

// delete deletes one memory. Query parameters (delete_linked) and a body
// are accepted and ignored: Engram memories are not linked.
func (s *server) delete(w http.ResponseWriter, r *http.Request) error {
	if err := s.mem.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return reply(w, http.StatusOK, message{"Memory deleted successfully!"})
}

func (s *server) history(w http.ResponseWriter, r *http.Request) error {
	h, err := s.mem.History(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]historyEntry, len(h))
	for i, e := range h {
		out[i] = historyEntry{
			ID: fmt.Sprintf("%s-%d", e.MemoryID, i+1), MemoryID: e.MemoryID, Input: []any{},
			OldMemory: nullable(e.OldMemory), NewMemory: nullable(e.NewMemory), Categories: []string{},
			Event: event(e.Event), CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt,
		}
	}
	return reply(w, http.StatusOK, out)
}
