package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var (
	hasher = rfc6962.DefaultHasher
	rf     = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// ErrRange is wrapped when an index or size lies outside the log.
var ErrRange = errors.New("out of range")

// LeafHash is the RFC 6962 leaf hash of an encoded entry: SHA-256 of 0x00
// followed by the entry.
func LeafHash(entry []byte) [32]byte {
	var h [32]byte
	copy(h[:], hasher.HashLeaf(entry))
	return h
}

// EmptyRoot is the root hash of the empty log: SHA-256 of nothing.
func EmptyRoot() [32]byte {
	var h [32]byte
	copy(h[:], hasher.EmptyRoot())
	return h
}

// lowLevels is the number of levels above the leaves whose hashes are not
// stored: a node at level 1 to lowLevels is recomputed from the 2 to
// 2^lowLevels leaf hashes under it, which are stored. Storing them would
// cost a row for every 2 leaves, 7 rows in 8 of the tree's interior; not
// storing them costs reading at most 8 leaf hashes per node asked for.
const lowLevels = 3

// storedNode reports whether the Log keeps the hash of node id.
func storedNode(id compact.NodeID) bool { return id.Level == 0 || id.Level > lowLevels }

// Log is the audit log over a Storage. Every leaf hash, and every perfect
// subtree hash above level lowLevels, is stored when it is completed, so
// that Append reads only the O(log n) hashes of the compact range (and at
// most 8 leaf hashes under each of its low nodes) and Root and proofs
// read only the hashes they need; nothing is recomputed from entries
// except by Verify.
type Log struct {
	s  Storage
	mu sync.Mutex // serialises appends within one process; Storage guards across processes
}

// New returns the log kept in s.
func New(s Storage) *Log { return &Log{s: s} }

// Size returns the number of entries in the log.
func (l *Log) Size(ctx context.Context) (uint64, error) { return l.s.Size(ctx) }

// compactRange loads the compact range [0, size).
func (l *Log) compactRange(ctx context.Context, size uint64) (*compact.Range, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes, err := l.hashes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load compact range of size %d: %w", size, err)
	}
	return rf.NewRange(0, size, hashes)
}

// Append encodes events and appends them in one Storage call, returning the
// index of the first.
func (l *Log) Append(ctx context.Context, events ...Event) (uint64, error) {
	entries := make([][]byte, len(events))
	for i := range events {
		b, err := events[i].Encode()
		if err != nil {
			return 0, fmt.Errorf("append: event %d: %w", i, err)
		}
		entries[i] = b
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.s.Size(ctx)
	if err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	if len(events) == 0 {
		return size, nil
	}
	r, err := l.compactRange(ctx, size)
	if err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	var nodes []Node
	visit := func(id compact.NodeID, h []byte) {
		if storedNode(id) {
			nodes = append(nodes, Node{ID: id, Hash: h})
		}
	}
	for _, e := range entries {
		if err := r.Append(hasher.HashLeaf(e), visit); err != nil {
			return 0, fmt.Errorf("append: %w", err)
		}
	}
	if err := l.s.Append(ctx, size, entries, nodes); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	return size, nil
}

// Root returns the root hash of the first size entries.
func (l *Log) Root(ctx context.Context, size uint64) ([32]byte, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return [32]byte{}, fmt.Errorf("root: %w", err)
	}
	if size == 0 {
		return EmptyRoot(), nil
	}
	r, err := l.compactRange(ctx, size)
	if err != nil {
		return [32]byte{}, fmt.Errorf("root: %w", err)
	}
	h, err := r.GetRootHash(nil)
	if err != nil {
		return [32]byte{}, fmt.Errorf("root: %w", err)
	}
	var root [32]byte
	copy(root[:], h)
	return root, nil
}

func (l *Log) checkSize(ctx context.Context, size uint64) error {
	n, err := l.s.Size(ctx)
	if err != nil {
		return err
	}
	if size > n {
		return fmt.Errorf("%w: size %d, log has %d entries", ErrRange, size, n)
	}
	return nil
}

// Entry returns the encoded entry at index.
func (l *Log) Entry(ctx context.Context, index uint64) ([]byte, error) {
	return l.s.Entry(ctx, index)
}

// InclusionProof returns the RFC 6962 audit path of entry index in the tree
// of the first size entries.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	if index >= size {
		return nil, fmt.Errorf("inclusion proof: %w: index %d, size %d", ErrRange, index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return l.fetch(ctx, nodes)
}

// ConsistencyProof returns the RFC 6962 proof that the tree of size m is a
// prefix of the tree of size n.
func (l *Log) ConsistencyProof(ctx context.Context, m, n uint64) ([][]byte, error) {
	if err := l.checkSize(ctx, n); err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	if m > n {
		return nil, fmt.Errorf("consistency proof: %w: %d > %d", ErrRange, m, n)
	}
	nodes, err := proof.Consistency(m, n)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return l.fetch(ctx, nodes)
}

func (l *Log) fetch(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := l.hashes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// hashes returns the hashes of the perfect subtrees ids, in one Storage
// call: stored nodes as they are, the others from the leaf hashes under
// them.
func (l *Log) hashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	low := false
	for _, id := range ids {
		low = low || !storedNode(id)
	}
	if !low {
		return l.s.Hashes(ctx, ids)
	}
	// first[i] is where id i's hashes start in want; a low node's are its
	// 2^level leaves.
	want := make([]compact.NodeID, 0, len(ids)+8)
	first := make([]int, len(ids))
	for i, id := range ids {
		first[i] = len(want)
		if storedNode(id) {
			want = append(want, id)
			continue
		}
		for j := range uint64(1) << id.Level {
			want = append(want, compact.NewNodeID(0, id.Index<<id.Level+j))
		}
	}
	got, err := l.s.Hashes(ctx, want)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if storedNode(id) {
			out[i] = got[first[i]]
			continue
		}
		out[i] = subtreeHash(got[first[i] : first[i]+1<<id.Level])
	}
	return out, nil
}

// subtreeHash is the RFC 6962 hash of the perfect subtree over leaf
// hashes, whose number is a power of two.
func subtreeHash(leaves [][]byte) []byte {
	level := slices.Clone(leaves)
	for len(level) > 1 {
		for i := range len(level) / 2 {
			level[i] = hasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

// VerifyInclusion checks that entry is at index in the tree of size entries
// with the given root.
func VerifyInclusion(entry []byte, index, size uint64, root [32]byte, path [][]byte) error {
	leaf := LeafHash(entry)
	return proof.VerifyInclusion(hasher, index, size, leaf[:], path, root[:])
}

// VerifyConsistency checks that the tree of size m with root rootM is a
// prefix of the tree of size n with root rootN.
func VerifyConsistency(m, n uint64, rootM, rootN [32]byte, p [][]byte) error {
	return proof.VerifyConsistency(hasher, m, n, p, rootM[:], rootN[:])
}
