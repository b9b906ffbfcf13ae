// Package sized reads a body whose length is announced (an HTTP
// Content-Length) into one buffer of that length.
package sized

import (
	"bytes"
	"io"
)

// ReadAll reads r to its end, as io.ReadAll does. When the announced
// length n is between 1 and max, the buffer is allocated once, at n (and
// one byte for the read that finds the end), instead of growing and being
// copied as the body comes: a TAXII page or envelope of a thousand objects
// is large. Past max no announcement is trusted for allocation; r itself
// bounds what is read. A body shorter or longer than announced is read
// whole all the same.
func ReadAll(r io.Reader, n, max int64) ([]byte, error) {
	if n <= 0 || n > max {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	b.Grow(int(n) + 1)
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
