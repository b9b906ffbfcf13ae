package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a request the server answered with an HTTP error status.
type Error struct {
	Method, URL string
	// StatusCode is the HTTP status code, Status its line ("403 Forbidden").
	StatusCode int
	Status     string
	// Message is the server's TAXII error message (section 3.6.1), nil
	// when the body was not one.
	Message *ErrorMessage
	// Body is the start of a body that was not a TAXII error message, for
	// diagnosis.
	Body string
}

// ErrorMessage is a TAXII error message. Its text comes from the server:
// print it quoted, never as terminal output of its own.
type ErrorMessage struct {
	Title           string
	Description     string
	ErrorID         string
	ErrorCode       string
	HTTPStatus      string
	ExternalDetails string
	// Details is the server's details object, as sent.
	Details json.RawMessage
}

// maxShown bounds the server text an error message repeats.
const maxShown = 300

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", e.Method, e.URL, e.Status)
	switch {
	case e.Message != nil:
		text := e.Message.Title
		if e.Message.Description != "" {
			text += ": " + e.Message.Description
		}
		fmt.Fprintf(&b, "; the server says %s", quote(text))
		if e.Message.ErrorID != "" {
			fmt.Fprintf(&b, " (error id %s)", quote(e.Message.ErrorID))
		}
	case e.Body != "":
		fmt.Fprintf(&b, "; the body is not a TAXII error message: %s", quote(e.Body))
	}
	if hint := statusHint(e.StatusCode); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	return b.String()
}

// quote shows server text safely: control characters escaped, length
// bounded.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxShown {
		r := []rune(s)
		s = string(r[:maxShown]) + "…"
	}
	return strconv.Quote(s)
}

func statusHint(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "the server wants valid credentials"
	case http.StatusForbidden:
		return "the server knows the caller but does not allow this"
	case http.StatusNotFound:
		return "no such resource for this caller: check the API root and collection id"
	case http.StatusNotAcceptable, http.StatusUnsupportedMediaType:
		return "the server does not accept TAXII 2.1 here"
	case http.StatusRequestEntityTooLarge:
		return "the request exceeds the API root's max_content_length"
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return "the server is busy; try again later"
	}
	return ""
}

func newError(method, rawURL string, resp *http.Response, body []byte) *Error {
	e := &Error{Method: method, URL: rawURL, StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode)
	}
	if m, err := parseErrorMessage(body); err == nil {
		e.Message = m
	} else if len(bytes.TrimSpace(body)) > 0 {
		b := body
		if len(b) > 200 {
			b = b[:200]
		}
		e.Body = strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return e
}

// parseErrorMessage reads a TAXII error message whatever the Content-Type
// it came with: proxies relabel bodies, and the message is the best
// account of what went wrong.
func parseErrorMessage(body []byte) (*ErrorMessage, error) {
	var raw struct {
		Title           *string         `json:"title"`
		Description     string          `json:"description"`
		ErrorID         string          `json:"error_id"`
		ErrorCode       string          `json:"error_code"`
		HTTPStatus      string          `json:"http_status"`
		ExternalDetails string          `json:"external_details"`
		Details         json.RawMessage `json:"details"`
	}
	if err := decodeObject(body, "error", &raw); err != nil {
		return nil, err
	}
	if raw.Title == nil {
		return nil, missing("error", "title")
	}
	if d := bytes.TrimSpace(raw.Details); len(d) > 0 && d[0] != '{' && !bytes.Equal(d, []byte("null")) {
		return nil, fmt.Errorf("error resource: details is not a JSON object")
	}
	return &ErrorMessage{Title: *raw.Title, Description: raw.Description, ErrorID: raw.ErrorID, ErrorCode: raw.ErrorCode,
		HTTPStatus: raw.HTTPStatus, ExternalDetails: raw.ExternalDetails, Details: raw.Details}, nil
}
