package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRootMatchesReference(t *testing.T) {
	ctx := context.Background()
	l, _, entries := newLog(t, 100)
	for size := 0; size <= 100; size++ {
		got, err := l.Root(ctx, uint64(size))
		if err != nil {
			t.Fatalf("Root(%d): %v", size, err)
		}
		if want := refMTH(entries[:size]); !bytes.Equal(got[:], want) {
			t.Fatalf("Root(%d) = %x; want %x", size, got, want)
		}
	}
	if _, err := l.Root(ctx, 101); !errors.Is(err, ErrRange) {
		t.Errorf("Root(101) error = %v; want ErrRange", err)
	}
}

func TestLeafHashAndEntries(t *testing.T) {
	ctx := context.Background()
	l, _, entries := newLog(t, 10)
	for i, e := range entries {
		if got := LeafHash(e); !bytes.Equal(got[:], refLeaf(e)) {
			t.Fatalf("LeafHash(entry %d) = %x; want %x", i, got, refLeaf(e))
		}
		stored, err := l.Entry(ctx, uint64(i))
		if err != nil || !bytes.Equal(stored, e) {
			t.Fatalf("Entry(%d) = %q, %v; want %q", i, stored, err, e)
		}
	}
	if _, err := l.Entry(ctx, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry(10) error = %v; want ErrNotFound", err)
	}
}

func TestAppendConflict(t *testing.T) {
	m := NewMemory()
	if err := m.Append(context.Background(), 1, [][]byte{[]byte("x")}, nil); !errors.Is(err, ErrConflict) {
		t.Errorf("Memory.Append at 1 of empty = %v; want ErrConflict", err)
	}
	l := New(m)
	if _, err := l.Append(context.Background(), testEvent(0), Event{Kind: "bogus", Time: t0, Actor: "a"}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Append(bad event) = %v; want ErrInvalidEvent", err)
	}
	if n, _ := m.Size(context.Background()); n != 0 {
		t.Errorf("size after rejected batch = %d; want 0 (batch is all or nothing)", n)
	}
}

func TestInclusionProofs(t *testing.T) {
	ctx := context.Background()
	const n = 50
	l, _, entries := newLog(t, n)
	for size := 1; size <= n; size++ {
		root, err := l.Root(ctx, uint64(size))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < size; i++ {
			p, err := l.InclusionProof(ctx, uint64(i), uint64(size))
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
			}
			if want := refPath(i, entries[:size]); !equalPaths(p, want) {
				t.Fatalf("InclusionProof(%d, %d) = %x; want %x", i, size, p, want)
			}
			if err := VerifyInclusion(entries[i], uint64(i), uint64(size), root, p); err != nil {
				t.Fatalf("VerifyInclusion(%d, %d): %v", i, size, err)
			}
			// Tampering: another entry, another index, a flipped proof byte.
			if err := VerifyInclusion(entries[(i+1)%size], uint64(i), uint64(size), root, p); err == nil && size > 1 {
				t.Fatalf("VerifyInclusion(%d, %d) accepted the wrong entry", i, size)
			}
			if size > 1 {
				if err := VerifyInclusion(entries[i], uint64((i+1)%size), uint64(size), root, p); err == nil {
					t.Fatalf("VerifyInclusion(%d, %d) accepted the wrong index", i, size)
				}
			}
			for j := range p {
				q := clonePath(p)
				q[j][i%32] ^= 1
				if err := VerifyInclusion(entries[i], uint64(i), uint64(size), root, q); err == nil {
					t.Fatalf("VerifyInclusion(%d, %d) accepted proof with hash %d changed", i, size, j)
				}
			}
			bad := root
			bad[0] ^= 0x80
			if err := VerifyInclusion(entries[i], uint64(i), uint64(size), bad, p); err == nil {
				t.Fatalf("VerifyInclusion(%d, %d) accepted a wrong root", i, size)
			}
		}
	}
	if _, err := l.InclusionProof(ctx, 5, 5); !errors.Is(err, ErrRange) {
		t.Errorf("InclusionProof(5, 5) error = %v; want ErrRange", err)
	}
}

func TestConsistencyProofs(t *testing.T) {
	ctx := context.Background()
	const n = 50
	l, _, entries := newLog(t, n)
	roots := make([][32]byte, n+1)
	for s := range roots {
		var err error
		if roots[s], err = l.Root(ctx, uint64(s)); err != nil {
			t.Fatal(err)
		}
	}
	for m := 0; m <= n; m++ {
		for k := m; k <= n; k++ {
			t.Run(fmt.Sprintf("%d-%d", m, k), func(t *testing.T) {
				p, err := l.ConsistencyProof(ctx, uint64(m), uint64(k))
				if err != nil {
					t.Fatalf("ConsistencyProof(%d, %d): %v", m, k, err)
				}
				if m > 0 {
					if want := refProof(m, entries[:k]); !equalPaths(p, want) {
						t.Fatalf("ConsistencyProof(%d, %d) = %x; want %x", m, k, p, want)
					}
				}
				if err := VerifyConsistency(uint64(m), uint64(k), roots[m], roots[k], p); err != nil {
					t.Fatalf("VerifyConsistency(%d, %d): %v", m, k, err)
				}
				if m == 0 || m == k {
					return // trivially consistent: nothing to tamper with but the roots
				}
				for j := range p {
					q := clonePath(p)
					q[j][j%32] ^= 1
					if err := VerifyConsistency(uint64(m), uint64(k), roots[m], roots[k], q); err == nil {
						t.Fatalf("VerifyConsistency(%d, %d) accepted proof with hash %d changed", m, k, j)
					}
				}
				if err := VerifyConsistency(uint64(m), uint64(k), roots[m-1], roots[k], p); err == nil {
					t.Fatalf("VerifyConsistency(%d, %d) accepted the root of size %d", m, k, m-1)
				}
				if err := VerifyConsistency(uint64(m), uint64(k), roots[m], roots[k-1], p); err == nil {
					t.Fatalf("VerifyConsistency(%d, %d) accepted the root of size %d", m, k, k-1)
				}
			})
		}
	}
	if _, err := l.ConsistencyProof(ctx, 3, 2); !errors.Is(err, ErrRange) {
		t.Errorf("ConsistencyProof(3, 2) error = %v; want ErrRange", err)
	}
}

func equalPaths(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func clonePath(p [][]byte) [][]byte {
	q := make([][]byte, len(p))
	for i := range p {
		q[i] = bytes.Clone(p[i])
	}
	return q
}
