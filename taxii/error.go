package taxii

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/tearline/tearline"
)

// Error is a failure whose title and description are safe to show to the
// remote caller. Anything else that reaches writeError is reported as an
// internal error without detail.
type Error struct {
	Status      int
	Title       string
	Description string
	// Err, if set, is logged and never sent.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Title + ": " + e.Description + ": " + e.Err.Error()
	}
	return e.Title + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }

func badRequest(format string) *Error {
	return &Error{Status: http.StatusBadRequest, Title: "Bad request", Description: format}
}

var (
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Title: "Authentication required",
		Description: "this server needs valid credentials for every request"}
	errNotAcceptable = &Error{Status: http.StatusNotAcceptable, Title: "Not acceptable",
		Description: "the Accept header must allow " + MediaType}
	errUnsupportedMedia = &Error{Status: http.StatusUnsupportedMediaType, Title: "Unsupported media type",
		Description: "the Content-Type of a POST must be " + MediaType}
	errTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Title: "Request too large",
		Description: "the request body exceeds the max_content_length of this API root"}
	errNoEndpoint = &Error{Status: http.StatusNotFound, Title: "Not found",
		Description: "no TAXII resource at this path"}
	errMethod = &Error{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
		Description: "this endpoint does not support the method; see the Allow header"}
	// One 404 for every missing or hidden collection, object and status,
	// so that what a caller may not see looks exactly like what is absent.
	errNoCollection = &Error{Status: http.StatusNotFound, Title: "Not found",
		Description: "no such collection"}
	errNoObject = &Error{Status: http.StatusNotFound, Title: "Not found",
		Description: "no such object in this collection"}
	errNoStatus = &Error{Status: http.StatusNotFound, Title: "Not found",
		Description: "no such status resource"}
	errNoRead = &Error{Status: http.StatusForbidden, Title: "Forbidden",
		Description: "you may not read this collection"}
	errNoWrite = &Error{Status: http.StatusForbidden, Title: "Forbidden",
		Description: "you may not write to this collection"}
)

// errorResource is the TAXII 2.1 error message (section 3.6.1).
type errorResource struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

// writeError is the one place that turns an error into an HTTP status and a
// TAXII error object. Only *Error values carry text to the caller; store and
// visibility failures become a bare 500 and are logged.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		if e.Err != nil {
			h.log.InfoContext(r.Context(), "taxii: request refused", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", e.Err)
		}
	case errors.Is(err, tearline.ErrNotFound):
		// A store that lost a collection between two calls.
		e = errNoCollection
	default:
		h.log.ErrorContext(r.Context(), "taxii: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{Status: http.StatusInternalServerError, Title: "Internal error",
			Description: "the server could not complete the request; try again later"}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", MediaType)
	hdr.Del("X-TAXII-Date-Added-First")
	hdr.Del("X-TAXII-Date-Added-Last")
	if e.Status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", h.cfg.Challenge)
	}
	body, _ := json.Marshal(errorResource{Title: e.Title, Description: e.Description, HTTPStatus: strconv.Itoa(e.Status)})
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(append(body, '\n'))
	}
}
