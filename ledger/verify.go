package ledger

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// CorruptionError says exactly what Verify found wrong.
type CorruptionError struct {
	What  string // "entry", "leaf hash", "node", "checkpoint"
	Index uint64 // entry index; for a node, its first leaf; for a checkpoint, its position in Checkpoints
	Level uint   // for a node, its level
	Err   error
}

func (e *CorruptionError) Error() string {
	switch e.What {
	case "node":
		return fmt.Sprintf("ledger corrupt: node at level %d over entries from %d: %v", e.Level, e.Index, e.Err)
	case "checkpoint":
		return fmt.Sprintf("ledger corrupt: checkpoint %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("ledger corrupt: %s %d: %v", e.What, e.Index, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Verify recomputes the whole log in s from its entries. Each entry must
// decode as a canonical Event; its leaf hash and every stored subtree hash
// must match the recomputation; every stored checkpoint must be signed by
// one of the log's keys and name a size and root of this log. Entries are checked before
// nodes, so a changed entry is reported as its own index. It returns a
// *CorruptionError for the first problem found, or a storage error.
func Verify(ctx context.Context, s Storage, logs ...note.Verifier) error {
	size, err := s.Size(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	signed, err := s.Checkpoints(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	type cp struct {
		pos int
		c   Checkpoint
	}
	cps := make([]cp, 0, len(signed))
	for i, b := range signed {
		c, _, err := OpenCheckpoint(b, logs...)
		if err != nil {
			return &CorruptionError{What: "checkpoint", Index: uint64(i), Err: err}
		}
		if c.Size > size {
			return &CorruptionError{What: "checkpoint", Index: uint64(i), Err: fmt.Errorf("size %d beyond log size %d", c.Size, size)}
		}
		cps = append(cps, cp{i, c})
	}
	slices.SortStableFunc(cps, func(a, b cp) int { return cmp.Compare(a.c.Size, b.c.Size) })

	var nodes []Node
	r := rf.NewEmptyRange(0)
	visit := func(id compact.NodeID, h []byte) { nodes = append(nodes, Node{ID: id, Hash: h}) }
	for len(cps) > 0 && cps[0].c.Size == 0 {
		if cps[0].c.Root != EmptyRoot() {
			return &CorruptionError{What: "checkpoint", Index: uint64(cps[0].pos), Err: fmt.Errorf("root of size 0 is not the empty root")}
		}
		cps = cps[1:]
	}
	for i := uint64(0); i < size; i++ {
		e, err := s.Entry(ctx, i)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if _, err := DecodeEvent(e); err != nil {
			return &CorruptionError{What: "entry", Index: i, Err: err}
		}
		leaf := LeafHash(e)
		stored, err := s.Hashes(ctx, []compact.NodeID{compact.NewNodeID(0, i)})
		if err != nil {
			return &CorruptionError{What: "leaf hash", Index: i, Err: err}
		}
		if !bytes.Equal(stored[0], leaf[:]) {
			return &CorruptionError{What: "entry", Index: i, Err: fmt.Errorf("leaf hash %x, stored %x", leaf, stored[0])}
		}
		if err := r.Append(leaf[:], visit); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		for len(cps) > 0 && cps[0].c.Size == i+1 {
			root, err := r.GetRootHash(nil)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			if !bytes.Equal(root, cps[0].c.Root[:]) {
				return &CorruptionError{What: "checkpoint", Index: uint64(cps[0].pos), Err: fmt.Errorf("root for size %d is %x, log has %x", cps[0].c.Size, cps[0].c.Root, root)}
			}
			cps = cps[1:]
		}
	}
	// Entries are sound; now the stored subtree hashes the Log serves
	// proofs from. Checked in leaf order, lowest level first. Nodes of the
	// levels the Log recomputes from leaf hashes are not read, if a store
	// written by an older Log still holds them.
	for _, n := range nodes {
		if !storedNode(n.ID) {
			continue
		}
		stored, err := s.Hashes(ctx, []compact.NodeID{n.ID})
		if err == nil && !bytes.Equal(stored[0], n.Hash) {
			err = fmt.Errorf("hash %x, stored %x", n.Hash, stored[0])
		}
		if err != nil {
			return &CorruptionError{What: "node", Index: n.ID.Index << n.ID.Level, Level: n.ID.Level, Err: err}
		}
	}
	return nil
}
