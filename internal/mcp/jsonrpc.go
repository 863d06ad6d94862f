package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/jsoncheck"
)

// JSON-RPC 2.0 error codes (§5.1).
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInternalError  = -32603
)

// guardJSONRPC makes every refusal on /mcp a JSON-RPC error object
// (application/json) whose message starts with Engram's stable code, and
// keeps the request's content out of it. Before the SDK sees a POST it
// checks what the SDK would otherwise refuse in text/plain, quoting the
// input: the body must be UTF-8 JSON without lone surrogate escapes
// (-32700 parse error) holding a JSON-RPC 2.0 message or a non-empty
// batch of them (-32600 invalid request). Refusals the SDK still makes
// on its own (an unknown method, a batch under a protocol version without
// batches, a wrong Accept header) are rewritten by rpcErrors.
func guardJSONRPC(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(&rpcErrors{ResponseWriter: w}, r)
			return
		}
		// The body is capped upstream (httpapi limitBody) and again here.
		body, err := io.ReadAll(io.LimitReader(r.Body, engram.MaxBodyBytes+1))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe) || len(body) > engram.MaxBodyBytes:
			writeRPCError(w, http.StatusRequestEntityTooLarge, nil, codeInvalidRequest,
				engram.CodeTooLarge, "body is larger than "+strconv.Itoa(engram.MaxBodyBytes)+" bytes")
			return
		case err != nil:
			writeRPCError(w, http.StatusBadRequest, nil, codeParseError, engram.CodeInvalid, "body could not be read whole")
			return
		}
		if err := jsoncheck.Check(body); err != nil {
			writeRPCError(w, http.StatusBadRequest, nil, codeParseError, engram.CodeInvalid, err.Error())
			return
		}
		if !json.Valid(body) {
			writeRPCError(w, http.StatusBadRequest, nil, codeParseError, engram.CodeInvalid, "body is not valid JSON")
			return
		}
		id, err := checkMessages(body)
		if err != nil {
			writeRPCError(w, http.StatusBadRequest, id, codeInvalidRequest, engram.CodeInvalid, err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(&rpcErrors{ResponseWriter: w, id: id}, r)
	})
}

// message is what checkMessages reads of a JSON-RPC message.
type message struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

// checkMessages checks the JSON-RPC 2.0 envelope of a valid JSON body:
// one message object or a non-empty array of them. It returns the id of a
// single message (to answer it), and errors that name the rule broken,
// never the value. A tools/call must name its tool with a string and give
// its arguments as an object: the SDK would otherwise quote them back.
func checkMessages(body []byte) (json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(body, &batch); err != nil || len(batch) == 0 {
			return nil, errors.New("a batch must be a non-empty array of JSON-RPC messages")
		}
		for _, m := range batch {
			if _, err := checkMessage(m); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return checkMessage(body)
}

func checkMessage(b json.RawMessage) (json.RawMessage, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New("a JSON-RPC message must be a JSON object with string jsonrpc and method fields")
	}
	id := m.ID
	if len(id) > 0 && !validID(id) {
		return nil, errors.New("id must be a string, a number or null")
	}
	if m.JSONRPC == nil || *m.JSONRPC != "2.0" {
		return id, errors.New(`jsonrpc must be "2.0"`)
	}
	if m.Method == nil {
		// A response to a request the server sent.
		if len(id) == 0 || (len(m.Result) == 0) == (len(m.Error) == 0) {
			return id, errors.New("a message needs a method (a request) or an id with result or error (a response)")
		}
		return id, nil
	}
	if *m.Method == "" {
		return id, errors.New("method must not be empty")
	}
	if len(m.Params) > 0 && !isObject(m.Params) {
		return id, errors.New("params must be a JSON object")
	}
	if *m.Method == "tools/call" {
		var p struct {
			Name      json.RawMessage `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		_ = json.Unmarshal(m.Params, &p)
		var name string
		if json.Unmarshal(p.Name, &name) != nil || name == "" {
			return id, errors.New("tools/call params.name must be a tool name (a string)")
		}
		if len(p.Arguments) > 0 && string(p.Arguments) != "null" && !isObject(p.Arguments) {
			return id, errors.New("tools/call params.arguments must be a JSON object")
		}
	}
	return id, nil
}

func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// validID accepts the id forms JSON-RPC allows, short enough to echo: it
// is the one part of a request an error repeats, as the protocol requires.
func validID(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	switch b[0] {
	case '"':
		var s string
		return json.Unmarshal(b, &s) == nil
	case 'n':
		return string(b) == "null"
	}
	var n json.Number
	return json.Unmarshal(b, &n) == nil
}

// writeRPCError writes a JSON-RPC error response: the message is
// "<engram code>: <rule>", data carries the code alone.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, rpcCode int, code, msg string) {
	if len(id) == 0 || !validID(id) {
		id = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error": map[string]any{
			"code":    rpcCode,
			"message": code + ": " + msg,
			"data":    map[string]string{"code": code},
		},
	})
}

// rpcErrors rewrites the SDK's plain-text refusals (http.Error, which
// quotes method names, Host headers and parser errors) into JSON-RPC
// errors that quote nothing. Responses that are already JSON pass through.
type rpcErrors struct {
	http.ResponseWriter
	id        json.RawMessage
	rewriting bool
}

func (w *rpcErrors) WriteHeader(status int) {
	ct := w.Header().Get("Content-Type")
	if status < 400 || strings.HasPrefix(ct, "application/json") {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.rewriting = true
	rpcCode, code, msg := codeInvalidRequest, engram.CodeInvalid, "not a request this MCP endpoint accepts: check the method name, "+
		"that the Accept header lists application/json and text/event-stream, the MCP-Protocol-Version header, "+
		"and that batches are used only before protocol version 2025-06-18"
	switch status {
	case http.StatusMethodNotAllowed:
		msg = "send JSON-RPC messages with POST"
	case http.StatusUnsupportedMediaType:
		msg = "Content-Type must be application/json"
	case http.StatusRequestEntityTooLarge:
		code, msg = engram.CodeTooLarge, "body is larger than "+strconv.Itoa(engram.MaxBodyBytes)+" bytes"
	case http.StatusUnauthorized:
		code, msg = engram.CodeUnauthenticated, "missing or invalid bearer API key"
	case http.StatusForbidden:
		code, msg = engram.CodeForbidden, "request refused"
	case http.StatusNotFound:
		code, msg = engram.CodeNotFound, "no such session (this endpoint is stateless)"
	default:
		if status >= 500 {
			rpcCode, code, msg = codeInternalError, engram.CodeInternal, "internal error"
		}
	}
	writeRPCError(w.ResponseWriter, status, w.id, rpcCode, code, msg)
}

func (w *rpcErrors) Write(b []byte) (int, error) {
	if w.rewriting {
		return len(b), nil // the SDK's text, replaced by WriteHeader's
	}
	return w.ResponseWriter.Write(b)
}

func (w *rpcErrors) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.rewriting {
		f.Flush()
	}
}

func (w *rpcErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }
