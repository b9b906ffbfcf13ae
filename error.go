package tearline

import "errors"

// Sentinel errors shared by the adapters. Adapters wrap them with context;
// callers test with errors.Is. The HTTP layer maps them to status codes in one
// place.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)
