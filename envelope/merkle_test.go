package envelope

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// A slow, obviously correct RFC 6962 (section 2.1) tree, written from the
// RFC's recursive definitions, to cross-check the compact-range tree.

func refSplit(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func refNode(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// refRoot is MTH(D[n]) where the leaves are already leaf hashes.
func refRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := refSplit(len(leaves))
	return refNode(refRoot(leaves[:k]), refRoot(leaves[k:]))
}

// refPath is PATH(m, D[n]).
func refPath(m int, leaves [][32]byte) [][32]byte {
	if len(leaves) == 1 {
		return nil
	}
	k := refSplit(len(leaves))
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

func TestLeafHash(t *testing.T) {
	c, l := sha256.Sum256([]byte("content")), sha256.Sum256([]byte("label"))
	want := sha256.Sum256(append(append([]byte("\x00tearline/envelope/v1/leaf"), c[:]...), l[:]...))
	if got := LeafHash(c, l); got != want {
		t.Errorf("LeafHash = %x; want %x", got, want)
	}
	if LeafHash(l, c) == want {
		t.Errorf("LeafHash(label, content) = LeafHash(content, label); the order must matter")
	}
}

func TestTreeAgainstReference(t *testing.T) {
	for n := 1; n <= 70; n++ {
		leaves := make([][32]byte, n)
		for i := range leaves {
			leaves[i] = sha256.Sum256(fmt.Appendf(nil, "leaf %d", i))
		}
		tr := newTree(leaves)
		if want := refRoot(leaves); tr.root != want {
			t.Fatalf("newTree(%d leaves).root = %x; want %x", n, tr.root, want)
		}
		for m := range n {
			got, err := tr.proof(uint64(m))
			if err != nil {
				t.Fatalf("proof(%d) of %d = %v", m, n, err)
			}
			want := refPath(m, leaves)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("proof(%d) of %d leaves = %x; want %x", m, n, got, want)
			}
			p := &Proof{Index: uint64(m), Leaf: leaves[m], Path: got}
			if err := verifyPath(p, n, tr.root); err != nil {
				t.Fatalf("verifyPath(leaf %d of %d) = %v", m, n, err)
			}
			if n > 1 {
				p.Index = uint64((m + 1) % n)
				if err := verifyPath(p, n, tr.root); err == nil {
					t.Fatalf("verifyPath(leaf %d of %d at index %d) = nil; want an error", m, n, p.Index)
				}
			}
		}
	}
}
