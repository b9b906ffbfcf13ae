package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
)

// Node is one stored hash of the Merkle tree: a leaf hash (level 0) or the
// hash of a perfect subtree of 2^level leaves.
type Node struct {
	ID   compact.NodeID
	Hash []byte
}

// Storage keeps the log durably. The Log computes every hash; a Storage only
// keeps bytes. Implementations MUST make Append atomic (entries, nodes, or
// nothing) and MUST refuse it with ErrConflict when first is not the current
// size, so that concurrent appenders cannot fork the log.
type Storage interface {
	// Size returns the number of entries.
	Size(ctx context.Context) (uint64, error)
	// Append stores entries at indices first, first+1, … together with the
	// tree nodes they complete.
	Append(ctx context.Context, first uint64, entries [][]byte, nodes []Node) error
	// Entry returns the entry at index, or an error wrapping ErrNotFound.
	Entry(ctx context.Context, index uint64) ([]byte, error)
	// Hashes returns the stored hashes of ids, in order, or an error wrapping
	// ErrNotFound if one is missing.
	Hashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
	// AddCheckpoint stores a signed checkpoint the node published.
	AddCheckpoint(ctx context.Context, signed []byte) error
	// Checkpoints returns every stored checkpoint, oldest first.
	Checkpoints(ctx context.Context) ([][]byte, error)
}

// Sentinel storage errors.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("append conflict: log size changed")
)

// Memory is an in-memory Storage, for tests and tools.
type Memory struct {
	mu          sync.Mutex
	entries     [][]byte
	nodes       map[compact.NodeID][]byte
	checkpoints [][]byte
}

var _ Storage = (*Memory)(nil)

// NewMemory returns an empty in-memory Storage.
func NewMemory() *Memory {
	return &Memory{nodes: make(map[compact.NodeID][]byte)}
}

// Size implements Storage.
func (m *Memory) Size(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.entries)), nil
}

// Append implements Storage.
func (m *Memory) Append(_ context.Context, first uint64, entries [][]byte, nodes []Node) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if first != uint64(len(m.entries)) {
		return fmt.Errorf("%w: append at %d, size %d", ErrConflict, first, len(m.entries))
	}
	for _, e := range entries {
		m.entries = append(m.entries, slices.Clone(e))
	}
	for _, n := range nodes {
		m.nodes[n.ID] = slices.Clone(n.Hash)
	}
	return nil
}

// Entry implements Storage.
func (m *Memory) Entry(_ context.Context, index uint64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if index >= uint64(len(m.entries)) {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	return slices.Clone(m.entries[index]), nil
}

// Hashes implements Storage.
func (m *Memory) Hashes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := m.nodes[id]
		if !ok {
			return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ErrNotFound)
		}
		out[i] = slices.Clone(h)
	}
	return out, nil
}

// AddCheckpoint implements Storage.
func (m *Memory) AddCheckpoint(_ context.Context, signed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoints = append(m.checkpoints, slices.Clone(signed))
	return nil
}

// Checkpoints implements Storage.
func (m *Memory) Checkpoints(context.Context) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, len(m.checkpoints))
	for i, c := range m.checkpoints {
		out[i] = slices.Clone(c)
	}
	return out, nil
}
