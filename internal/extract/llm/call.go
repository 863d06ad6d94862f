package llm

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"

	"github.com/engram-memory/engram/internal/extract"
)

// Extract extracts from one message.
func (x *Extractor) Extract(ctx context.Context, m extract.Message) (extract.Result, error) {
	return x.ExtractConversation(ctx, []extract.Message{m})
}

// ExtractConversation sends the conversation to the model and validates its
// answer. An empty conversation costs no request.
func (x *Extractor) ExtractConversation(ctx context.Context, msgs []extract.Message) (extract.Result, error) {
	if len(msgs) == 0 {
		return extract.Result{Entities: []extract.Mention{}, Facts: []extract.Fact{}}, nil
	}
	params := openai.ChatCompletionNewParams{
		Model: x.cfg.Model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(systemPrompt()),
			openai.UserMessage(userPrompt(msgs)),
		},
		MaxTokens:   openai.Int(int64(x.cfg.MaxTokens)), // max_tokens: what Ollama and vLLM read
		Temperature: openai.Float(0),
	}
	content, err := x.complete(ctx, params)
	if err != nil {
		return extract.Result{}, err
	}
	return validate(content, msgs, x.cfg.MaxEntities, x.cfg.MaxFacts)
}

// complete runs one completion: json_schema first (unless the server already
// refused it), json_object once if the server says it cannot do json_schema.
func (x *Extractor) complete(ctx context.Context, params openai.ChatCompletionNewParams) (string, error) {
	if !x.jsonObject.Load() {
		params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
					Name:   schemaName,
					Strict: openai.Bool(true),
					Schema: outputSchema(),
				},
			},
		}
		content, err := x.withRetries(ctx, params)
		if !isSchemaUnsupported(err) {
			return content, err
		}
		x.jsonObject.Store(true)
	}
	params.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{
		OfJSONObject: &shared.ResponseFormatJSONObjectParam{},
	}
	content, err := x.withRetries(ctx, params)
	if isSchemaUnsupported(err) {
		return "", &StatusError{Status: 400} // no fallback left: an ordinary 400
	}
	return content, err
}

// unsupportedSchema is how withRetries reports a 400 that names json_schema or
// response_format; only complete sees it.
type unsupportedSchema struct{ StatusError }

func isSchemaUnsupported(err error) bool {
	var u *unsupportedSchema
	return errors.As(err, &u)
}

// withRetries makes the request, retrying 429 and 5xx at most MaxRetries times.
// Timeouts are not retried: a model too slow once is slow again, and the caller's
// budget is the timeout, not a multiple of it.
func (x *Extractor) withRetries(ctx context.Context, params openai.ChatCompletionNewParams) (string, error) {
	for attempt := 0; ; attempt++ {
		content, wait, err := x.once(ctx, params)
		var se *StatusError
		retryable := errors.As(err, &se) && (se.Status == 429 || se.Status >= 500)
		if err == nil || !retryable || attempt >= x.cfg.MaxRetries {
			return content, err
		}
		d := x.cfg.Backoff(attempt + 1)
		if wait > d {
			d = min(wait, maxRetryAfter)
		}
		if err := x.sleep(ctx, d); err != nil {
			return "", err
		}
	}
}

// sleep waits d or until ctx ends. Tests replace it (Extractor.sleepFn) to record waits.
func (x *Extractor) sleep(ctx context.Context, d time.Duration) error {
	if x.sleepFn != nil {
		return x.sleepFn(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-t.C:
		return nil
	}
}

// once is one attempt. wait is the server's Retry-After, if any.
func (x *Extractor) once(ctx context.Context, params openai.ChatCompletionNewParams) (string, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, x.cfg.Timeout)
	defer cancel()
	resp, err := x.chat.New(actx, params)
	if err != nil {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			var wait time.Duration
			if apiErr.Response != nil {
				if s, perr := strconv.Atoi(apiErr.Response.Header.Get("Retry-After")); perr == nil && s > 0 {
					wait = time.Duration(s) * time.Second
				}
			}
			if apiErr.StatusCode == 400 && mentionsSchema(apiErr) {
				return "", 0, &unsupportedSchema{StatusError{Status: 400}}
			}
			return "", wait, &StatusError{Status: apiErr.StatusCode}
		}
		if actx.Err() != nil {
			if ctx.Err() != nil {
				return "", 0, ctxErr(ctx)
			}
			return "", 0, ErrTimeout
		}
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || errors.As(err, &typ) || strings.Contains(err.Error(), "response json") {
			return "", 0, ErrMalformed // a 200 whose body is not a completion
		}
		return "", 0, ErrTransport // the SDK's error names the URL and cause; we keep neither
	}
	if len(resp.Choices) == 0 {
		return "", 0, ErrRefused
	}
	msg := resp.Choices[0].Message
	if msg.Refusal != "" || msg.Content == "" {
		return "", 0, ErrRefused
	}
	return msg.Content, 0, nil
}

// mentionsSchema says whether a 400 is about the response format, as the
// servers that lack json_schema word it ("response_format", "json_schema").
// The body is read here and dropped.
func mentionsSchema(e *openai.Error) bool {
	body := strings.ToLower(e.Message + " " + e.Param + " " + e.Code + " " + e.RawJSON())
	return strings.Contains(body, "json_schema") || strings.Contains(body, "response_format")
}

func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// defaultBackoff is 500 ms doubling per retry, capped at 8 s, with up to 25 % jitter
// so that many workers do not retry in step.
func defaultBackoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 4)
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}
