package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
)

// The SDK validates tool arguments against the input schema before our
// handlers run, and its messages quote the offending value (a 70 kB
// content, a secret put in metadata) without Engram's code. checkArguments
// runs first, as receiving middleware, with the same schemas: its errors
// start with the stable code and name the argument and the rule, never
// the value. Anything the SDK still refuses is reported without its text.

// checkArguments returns middleware that validates every tools/call's
// arguments against schemas (by tool name) before the SDK does.
func checkArguments(schemas map[string]*jsonschema.Schema) sdk.Middleware {
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			call, ok := req.(*sdk.CallToolRequest)
			if !ok || call.Params == nil {
				return next(ctx, method, req)
			}
			if s := schemas[call.Params.Name]; s != nil {
				if err := validArguments(s, call.Params.Arguments); err != nil {
					return errorResult(err), nil
				}
			}
			res, err := next(ctx, method, req)
			if r, ok := res.(*sdk.CallToolResult); ok && r.IsError && !fromEngram(r) {
				// An SDK refusal the check above did not foresee.
				return errorResult(invalid("arguments do not match the tool's input schema")), err
			}
			return res, err
		}
	}
}

func invalid(format string, args ...any) error {
	return engram.Errorf(engram.CodeInvalid, format, args...)
}

func errorResult(err error) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: err.Error()}}}
}

var codes = []string{engram.CodeInvalid, engram.CodeUnauthenticated, engram.CodeForbidden, engram.CodeNotFound,
	engram.CodeConflict, engram.CodeHeld, engram.CodeTooLarge, engram.CodeRateLimited, engram.CodeUnavailable, engram.CodeInternal}

// fromEngram reports whether an error result came from toolError: its
// text starts with a stable code.
func fromEngram(r *sdk.CallToolResult) bool {
	if len(r.Content) != 1 {
		return false
	}
	tc, ok := r.Content[0].(*sdk.TextContent)
	if !ok {
		return false
	}
	code, _, ok := strings.Cut(tc.Text, ": ")
	return ok && slices.Contains(codes, code)
}

// validArguments checks raw against s, one of this package's input
// schemas: properties of type string, integer, number, boolean, array or
// object with length, range, size and item bounds; required names; no
// other properties. Nested objects (the memory-server tools' entities and
// relations) are checked the same way. Errors name the argument by its
// path (entities[2].name), never its value.
func validArguments(s *jsonschema.Schema, raw json.RawMessage) error {
	args := map[string]any{}
	if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		if err := d.Decode(&args); err != nil {
			return invalid("arguments must be a JSON object")
		}
	}
	for _, name := range s.Required {
		if _, ok := args[name]; !ok {
			return invalid("%s is required", name)
		}
	}
	names := make([]string, 0, len(args))
	for k := range args {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		p, ok := s.Properties[k]
		if !ok {
			return invalid("unknown argument: this tool takes %s", strings.Join(propertyNames(s), ", "))
		}
		if err := validValue(k, p, args[k]); err != nil {
			return err
		}
	}
	return nil
}

func propertyNames(s *jsonschema.Schema) []string {
	known := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		known = append(known, name)
	}
	slices.Sort(known)
	return known
}

// schemaType is p's type, with "null" left out of a type list (the
// inferred schemas of pointers, where validValue accepts null first).
func schemaType(p *jsonschema.Schema) string {
	if p.Type != "" {
		return p.Type
	}
	for _, t := range p.Types {
		if t != "null" {
			return t
		}
	}
	return ""
}

func validValue(name string, p *jsonschema.Schema, v any) error {
	if v == nil && slices.Contains(p.Types, "null") {
		return nil
	}
	switch schemaType(p) {
	case "string":
		s, ok := v.(string)
		if !ok {
			return invalid("%s must be a string", name)
		}
		n := utf8.RuneCountInString(s)
		if p.MinLength != nil && n < *p.MinLength {
			if *p.MinLength == 1 {
				return invalid("%s must not be empty", name)
			}
			return invalid("%s is shorter than %d characters", name, *p.MinLength)
		}
		if p.MaxLength != nil && n > *p.MaxLength {
			return invalid("%s is longer than %d characters", name, *p.MaxLength)
		}
	case "integer":
		num, ok := v.(json.Number)
		i, err := num.Int64()
		if !ok || err != nil {
			return invalid("%s must be an integer", name)
		}
		if (p.Minimum != nil && float64(i) < *p.Minimum) || (p.Maximum != nil && float64(i) > *p.Maximum) {
			return invalid("%s must be between %g and %g", name, deref(p.Minimum), deref(p.Maximum))
		}
	case "number":
		num, ok := v.(json.Number)
		f, err := num.Float64()
		if !ok || err != nil {
			return invalid("%s must be a number", name)
		}
		if (p.Minimum != nil && f < *p.Minimum) || (p.Maximum != nil && f > *p.Maximum) {
			return invalid("%s must be between %g and %g", name, deref(p.Minimum), deref(p.Maximum))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return invalid("%s must be true or false", name)
		}
	case "array":
		return validArray(name, p, v)
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return invalid("%s must be a JSON object", name)
		}
		if p.MaxProperties != nil && len(m) > *p.MaxProperties {
			return invalid("%s has more than %d keys", name, *p.MaxProperties)
		}
		if p.Properties != nil {
			return validObject(name, p, m)
		}
	}
	return nil
}

func validArray(name string, p *jsonschema.Schema, v any) error {
	a, ok := v.([]any)
	if !ok {
		return invalid("%s must be an array", name)
	}
	if p.MinItems != nil && len(a) < *p.MinItems {
		return invalid("%s must hold at least %d item(s)", name, *p.MinItems)
	}
	if p.MaxItems != nil && len(a) > *p.MaxItems {
		return invalid("%s holds more than %d items", name, *p.MaxItems)
	}
	if p.Items == nil {
		return nil
	}
	for i, item := range a {
		if err := validValue(name+"["+strconv.Itoa(i)+"]", p.Items, item); err != nil {
			return err
		}
	}
	return nil
}

// validObject checks an object with declared properties (an array item).
// An unknown key is refused without quoting it: keys are caller input.
func validObject(name string, p *jsonschema.Schema, m map[string]any) error {
	for _, req := range p.Required {
		if _, ok := m[req]; !ok {
			return invalid("%s.%s is required", name, req)
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q, ok := p.Properties[k]
		if !ok {
			return invalid("%s has an unknown key: it takes %s", name, strings.Join(propertyNames(p), ", "))
		}
		if err := validValue(name+"."+k, q, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}
