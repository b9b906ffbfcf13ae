package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/compact"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	signer, verifier := fixedKeys(t, origin, 1)
	build := func() (*Log, *Memory) {
		l, m, _ := newLog(t, 20)
		if _, err := l.Checkpoint(ctx, signer); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, testEvent(20)); err != nil {
			t.Fatal(err)
		}
		return l, m
	}
	_, m := build()
	if err := Verify(ctx, m, verifier); err != nil {
		t.Fatalf("Verify(intact) = %v", err)
	}
	for _, i := range []uint64{0, 7, 19, 20} {
		// A changed entry, still a valid canonical event.
		_, m := build()
		b, _ := testEvent(500).Encode()
		m.entries[i] = b
		var ce *CorruptionError
		if err := Verify(ctx, m, verifier); !errors.As(err, &ce) || ce.What != "entry" || ce.Index != i {
			t.Errorf("Verify(entry %d replaced) = %v; want corruption at entry %d", i, err, i)
		}
		// The entry and its leaf hash both rewritten: the parent nodes or the
		// checkpoint catch it.
		_, m = build()
		m.entries[i] = b
		lh := LeafHash(b)
		m.nodes[compact.NewNodeID(0, i)] = lh[:]
		err := Verify(ctx, m, verifier)
		if i == 20 {
			// Past the last checkpoint and under no complete subtree: only a
			// published (cosigned) checkpoint can pin it. Stated, not hidden.
			if err != nil {
				t.Errorf("Verify(unpinned entry 20 rewritten) = %v; want nil (nothing pins it)", err)
			}
			continue
		}
		if !errors.As(err, &ce) || (ce.What != "checkpoint" && ce.What != "node") {
			t.Errorf("Verify(entry %d and leaf hash replaced) = %v; want checkpoint or node corruption", i, err)
		} else if ce.What == "node" && (i < ce.Index || i >= ce.Index+1<<ce.Level) {
			t.Errorf("Verify(entry %d and leaf hash replaced) = %v; node does not cover %d", i, err, i)
		}
	}
	// Non-canonical bytes.
	_, m = build()
	m.entries[3] = append(m.entries[3], ' ')
	var ce *CorruptionError
	if err := Verify(ctx, m, verifier); !errors.As(err, &ce) || ce.What != "entry" || ce.Index != 3 {
		t.Errorf("Verify(entry 3 with a space) = %v; want entry 3", err)
	}
	// An interior node.
	_, m = build()
	m.nodes[compact.NewNodeID(4, 0)][0] ^= 1
	if err := Verify(ctx, m, verifier); !errors.As(err, &ce) || ce.What != "node" || ce.Level != 4 || ce.Index != 0 {
		t.Errorf("Verify(node 4/0 changed) = %v; want node level 4 from entry 0", err)
	}
	// Nodes of the low levels, which the Log recomputes, are not stored;
	// if an older Log stored them, they are not read, changed or not.
	_, m = build()
	if _, ok := m.nodes[compact.NewNodeID(2, 1)]; ok {
		t.Errorf("node 2/1 is stored; levels 1 to %d are recomputed from leaf hashes", lowLevels)
	}
	m.nodes[compact.NewNodeID(2, 1)] = make([]byte, 32)
	if err := Verify(ctx, m, verifier); err != nil {
		t.Errorf("Verify(a stale low node stored) = %v; want nil", err)
	}
	// A checkpoint signed by another key, or for a root this log never had.
	_, m = build()
	other, _ := fixedKeys(t, origin, 9)
	forged, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 3}, other)
	m.checkpoints = append(m.checkpoints, forged)
	if err := Verify(ctx, m, verifier); !errors.As(err, &ce) || ce.What != "checkpoint" || ce.Index != 1 {
		t.Errorf("Verify(forged checkpoint) = %v; want checkpoint 1", err)
	}
	_, m = build()
	wrong, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 3}, signer)
	m.checkpoints = append(m.checkpoints, wrong)
	if err := Verify(ctx, m, verifier); !errors.As(err, &ce) || ce.What != "checkpoint" || ce.Index != 1 {
		t.Errorf("Verify(wrong-root checkpoint) = %v; want checkpoint 1", err)
	}
}
