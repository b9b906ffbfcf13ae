package sized

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAll: whatever the announced length (right, short, long, none,
// past the bound), the body comes back whole, and a read error is
// returned.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, c := range []struct {
		name   string
		n, max int64
	}{
		{"announced", int64(len(body)), 1 << 20},
		{"announced short", 10, 1 << 20},
		{"announced long", int64(2 * len(body)), 1 << 20},
		{"not announced", -1, 1 << 20},
		{"past the bound", int64(len(body)), 100},
	} {
		got, err := ReadAll(iotest.OneByteReader(strings.NewReader(body)), c.n, c.max)
		if err != nil || !bytes.Equal(got, []byte(body)) {
			t.Errorf("%s: read %d bytes, %v; want the %d bytes", c.name, len(got), err, len(body))
		}
	}
	boom := errors.New("boom")
	for _, n := range []int64{-1, 100} {
		if _, err := ReadAll(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), n, 1<<20); !errors.Is(err, boom) {
			t.Errorf("announced %d: error %v; want %v", n, err, boom)
		}
	}
}
