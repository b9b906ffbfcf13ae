package pattern

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Limits on what Parse accepts. Real patterns are far smaller and
// shallower; the limits keep hostile input from costing memory or stack.
const (
	// MaxLength is the longest pattern Parse reads, in bytes.
	MaxLength = 1 << 20
	// MaxDepth is how deeply parentheses and square brackets may nest.
	MaxDepth = 100
)

// ErrTooLong and ErrTooDeep are wrapped by the *SyntaxError that refuses
// a pattern over MaxLength or MaxDepth.
var (
	ErrTooLong = errors.New("pattern too long")
	ErrTooDeep = errors.New("pattern nested too deeply")
)

// SyntaxError reports why a pattern was refused and where.
type SyntaxError struct {
	// Offset is the byte offset, from 0, where the problem was found.
	Offset int
	// Line and Column locate Offset, both from 1; Column counts
	// characters, not bytes.
	Line, Column int
	// Msg says what was expected and what was found.
	Msg string
	// Err is ErrTooLong or ErrTooDeep when a limit was hit, else nil.
	Err error
}

// Error returns "pattern: at offset N: " and the message.
func (e *SyntaxError) Error() string {
	return "pattern: at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Unwrap returns the limit that was hit, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// newError builds a SyntaxError at offset off of src.
func newError(src string, off int, msg string) *SyntaxError {
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for i := 0; i < off; {
		r, n := utf8.DecodeRuneInString(src[i:])
		i += n
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: msg}
}
