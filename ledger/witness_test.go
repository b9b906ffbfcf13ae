package ledger

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestCosign(t *testing.T) {
	ctx := context.Background()
	l, _, _ := newLog(t, 5)
	signer, verifier := fixedKeys(t, origin, 1)
	first, err := l.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	fra := fixedCosigner("tearline.example/FRA", 3, at)
	w := &Witness{Log: verifier, Signer: fra}

	co1, err := w.Cosign(first, nil, nil)
	if err != nil {
		t.Fatalf("Cosign(first): %v", err)
	}
	c, names, err := OpenCosigned(co1, verifier, fra.Verifier())
	if err != nil || len(names) != 1 || names[0] != fra.Name() || c.Size != 5 {
		t.Fatalf("OpenCosigned = %+v, %v, %v; want size 5 cosigned by FRA", c, names, err)
	}

	if _, err := l.Append(ctx, testEvent(5), testEvent(6), testEvent(7)); err != nil {
		t.Fatal(err)
	}
	second, err := l.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.ConsistencyProof(ctx, 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	// A second witness cosigns an already cosigned checkpoint: both kept.
	deu := fixedCosigner("tearline.example/DEU", 4, at)
	co2, err := (&Witness{Log: verifier, Signer: deu}).Cosign(mustCosign(t, w, second, first, p), first, p)
	if err != nil {
		t.Fatalf("Cosign(consistent extension): %v", err)
	}
	_, names, err = OpenCosigned(co2, verifier, fra.Verifier(), deu.Verifier())
	if err != nil || len(names) != 2 {
		t.Fatalf("OpenCosigned(two witnesses) = %v, %v; want FRA and DEU", names, err)
	}
	// A tampered cosignature is rejected.
	bad := bytes.Clone(co2)
	bad[len(bad)-3] ^= 1
	if _, _, err := OpenCosigned(bad, verifier, fra.Verifier(), deu.Verifier()); err == nil {
		t.Error("OpenCosigned accepted a tampered cosignature")
	}
	if ts, ok := CosignedAt(noteSig(t, co2, deu.Name())); !ok || !ts.Equal(at) {
		t.Errorf("CosignedAt = %v, %v; want %v", ts, ok, at)
	}

	// An inconsistent extension: a forked log signed by the same key.
	forked, _, _ := newLog(t, 4)
	if _, err := forked.Append(ctx, testEvent(100), testEvent(101), testEvent(102), testEvent(103)); err != nil {
		t.Fatal(err)
	}
	fork, err := forked.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := forked.ConsistencyProof(ctx, 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Cosign(fork, first, fp)
	var sv *SplitView
	if !errors.As(err, &sv) {
		t.Fatalf("Cosign(inconsistent) error = %v; want *SplitView", err)
	}
	if _, err := w.Cosign(fork, first, p); !errors.As(err, &sv) {
		t.Fatalf("Cosign(inconsistent, honest proof) error = %v; want *SplitView", err)
	}
	// Going backwards is refused.
	if _, err := w.Cosign(first, second, nil); !errors.Is(err, ErrRollback) {
		t.Errorf("Cosign(older) error = %v; want ErrRollback", err)
	}
	// A checkpoint not signed by the partner is refused.
	other, _ := fixedKeys(t, origin, 9)
	forged, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 8}, other)
	if _, err := w.Cosign(forged, first, p); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("Cosign(forged) error = %v; want ErrCheckpoint", err)
	}
}

func TestDetectSplitView(t *testing.T) {
	ctx := context.Background()
	signer, verifier := fixedKeys(t, origin, 1)
	a, _, _ := newLog(t, 6)
	b, _, _ := newLog(t, 5)
	if _, err := b.Append(ctx, testEvent(99)); err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Checkpoint(ctx, signer)
	cb, _ := b.Checkpoint(ctx, signer)
	err := Detect(ca, cb, verifier, nil)
	var sv *SplitView
	if !errors.As(err, &sv) || !bytes.Equal(sv.A, ca) || !bytes.Equal(sv.B, cb) {
		t.Fatalf("Detect(same size, different roots) = %v; want *SplitView with both checkpoints", err)
	}
	if err := Detect(ca, ca, verifier, nil); err != nil {
		t.Errorf("Detect(same checkpoint twice) = %v; want nil", err)
	}
	// Different sizes: an honest proof passes, the forked one fails.
	if _, err := a.Append(ctx, testEvent(6), testEvent(7)); err != nil {
		t.Fatal(err)
	}
	ca8, _ := a.Checkpoint(ctx, signer)
	p, _ := a.ConsistencyProof(ctx, 6, 8)
	if err := Detect(ca8, ca, verifier, p); err != nil {
		t.Errorf("Detect(consistent 6 -> 8) = %v; want nil", err)
	}
	if err := Detect(cb, ca8, verifier, p); !errors.As(err, &sv) || !bytes.Equal(sv.A, cb) {
		t.Errorf("Detect(forked 6 -> 8) = %v; want *SplitView", err)
	}
	// An unsigned checkpoint is not evidence.
	other, _ := fixedKeys(t, origin, 9)
	forged, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 6}, other)
	if err := Detect(ca, forged, verifier, nil); errors.As(err, &sv) || !errors.Is(err, ErrCheckpoint) {
		t.Errorf("Detect(forged) = %v; want ErrCheckpoint, not a split view", err)
	}
}

func mustCosign(t *testing.T, w *Witness, signed, prev []byte, p [][]byte) []byte {
	t.Helper()
	b, err := w.Cosign(signed, prev, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func noteSig(t *testing.T, signed []byte, name string) noteSignature {
	t.Helper()
	n, err := openAny(signed)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range n.UnverifiedSigs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no signature by %s", name)
	return noteSignature{}
}
