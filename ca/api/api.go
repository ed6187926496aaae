// Package api is the CA's HTTP layer: three handlers over package
// authority, one per listener.
//
//   - The admin API (NewAdmin): HTTP+JSON for operators, behind a bearer
//     token, on a loopback address by default.
//   - The key API (NewKeys, KeyTLSConfig): edges fetch their organisations'
//     keys over mutual TLS 1.3 with the client certificate they got at
//     enrolment.
//   - The public listener (NewPublic): CRLs and a health check, plain HTTP.
//
// Handlers are thin and shaped alike: read the request (bounded), validate
// what can be checked without the store, act through the authority, which
// makes every decision that protects a key, and render. Errors carry their
// HTTP status (authority.Status); a 4xx message says what to fix, a 5xx
// message is generic and the detail goes to the log only.
package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/lucid-edge/lucid/ca/authority"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// ErrorBody is how every API error is rendered.
type ErrorBody struct {
	Error string `json:"error"`
}

// handlerFunc is a handler that returns its error for errorHandler to
// render, so each handler reads as its steps with no rendering of errors.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts f to an http.Handler that renders f's error.
func handle(log *slog.Logger, f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, r, log, err)
		}
	})
}

// writeError renders err as {"error": "..."} with its status. Messages of
// server errors stay in the log: they may name internals (SQL, file
// paths) that a client has no use for. A request ID ties the two together.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := authority.Status(err)
	msg := err.Error()
	if status >= 500 {
		id := requestID()
		log.Error("request failed", "id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		msg = fmt.Sprintf("internal error (request %s): see the CA's log", id)
	}
	writeJSON(w, status, ErrorBody{Error: msg})
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeJSON renders v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// badRequest is a 400 with a message that says what to fix.
func badRequest(format string, args ...any) error {
	return &authority.Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// readJSON decodes the request body into v: at most maxBody bytes, one
// JSON object, no fields v does not have. An empty body leaves v as it is
// when allowEmpty, for requests whose fields are all optional.
func readJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if allowEmpty {
			return nil
		}
		return badRequest("the request body is empty: send a JSON object")
	}
	if err == nil {
		// One object per request: trailing data is a client bug.
		if err = dec.Decode(new(json.RawMessage)); err == nil {
			return badRequest("the request body holds more than one JSON value: send one object")
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
	return decodeError(err)
}

func decodeError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &authority.Error{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the request body is larger than %d bytes", maxBody)}
	case errors.As(err, &syntax):
		return badRequest("the request body is not valid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field == "":
		return badRequest("the request body must be a JSON object, not %s", typ.Value)
	case errors.As(err, &typ):
		return badRequest("field %q must be a JSON %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for this one.
		return badRequest("the request body has %s: remove it (see the API documentation for the fields)", strings.TrimPrefix(err.Error(), "json: "))
	}
	return badRequest("the request body does not decode: %v", err)
}
