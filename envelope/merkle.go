package envelope

import (
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

// LeafHash is the Merkle leaf that binds an object's content hash to its
// label hash: the RFC 6962 leaf hash (SHA-256 of 0x00 and the data) of the
// leaf context string followed by the two hashes.
func LeafHash(contentHash, labelHash [32]byte) [32]byte {
	var data [len(leafContext) + 64]byte
	copy(data[:], leafContext)
	copy(data[len(leafContext):], contentHash[:])
	copy(data[len(leafContext)+32:], labelHash[:])
	var leaf [32]byte
	copy(leaf[:], hasher.HashLeaf(data[:]))
	return leaf
}

// tree holds every perfect subtree hash of an RFC 6962 tree, so that it can
// give inclusion proofs: nodes[level][index].
type tree struct {
	size  uint64
	nodes [][][]byte
	root  [32]byte
}

// newTree builds the tree over leaves (at least one).
func newTree(leaves [][32]byte) *tree {
	t := &tree{size: uint64(len(leaves))}
	for n := t.size; n > 0; n >>= 1 {
		t.nodes = append(t.nodes, make([][]byte, n))
	}
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) { t.nodes[id.Level][id.Index] = h }
	for i := range leaves {
		// Append fails only on a corrupted range, which this one cannot be.
		if err := r.Append(leaves[i][:], visit); err != nil {
			panic(fmt.Sprintf("envelope: merkle append: %v", err))
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(fmt.Sprintf("envelope: merkle root: %v", err))
	}
	copy(t.root[:], root)
	return t
}

// proof returns the inclusion path of leaf index.
func (t *tree) proof(index uint64) ([][32]byte, error) {
	nodes, err := proof.Inclusion(index, t.size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = t.nodes[id.Level][id.Index]
	}
	hashes, err = nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, err
	}
	path := make([][32]byte, len(hashes))
	for i, h := range hashes {
		copy(path[i][:], h)
	}
	return path, nil
}

// verifyPath checks that p leads from p.Leaf to root in a tree of size
// leaves.
func verifyPath(p *Proof, size int, root [32]byte) error {
	if p.Index >= uint64(size) {
		return reject(ErrPathTampered, "leaf index %d, but the batch has %d objects", p.Index, size)
	}
	path := make([][]byte, len(p.Path))
	for i := range p.Path {
		path[i] = p.Path[i][:]
	}
	got, err := proof.RootFromInclusionProof(hasher, p.Index, uint64(size), p.Leaf[:], path)
	if err != nil {
		return reject(ErrPathTampered, "leaf %d: %v", p.Index, err)
	}
	if !equalHash(got, root[:]) {
		return reject(ErrPathTampered, "leaf %d: path of %d hashes leads to %x, not the signed root %x", p.Index, len(p.Path), got, root)
	}
	return nil
}
