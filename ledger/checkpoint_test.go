package ledger

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

const origin = "tearline.example/GBR"

func TestCheckpointRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, m, entries := newLog(t, 7)
	signer, verifier := fixedKeys(t, origin, 1)
	signed, err := l.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := OpenCheckpoint(signed, verifier)
	if err != nil {
		t.Fatalf("OpenCheckpoint: %v", err)
	}
	if want := refMTH(entries); c.Origin != origin || c.Size != 7 || !bytes.Equal(c.Root[:], want) {
		t.Fatalf("OpenCheckpoint = %+v; want %s, 7, %x", c, origin, want)
	}
	again, err := SignCheckpoint(c, signer)
	if err != nil || !bytes.Equal(again, signed) {
		t.Fatalf("SignCheckpoint(OpenCheckpoint(x)) = %q, %v; want %q", again, err, signed)
	}
	if stored, _ := m.Checkpoints(ctx); len(stored) != 1 || !bytes.Equal(stored[0], signed) {
		t.Fatalf("stored checkpoints = %q; want the signed one", stored)
	}
	if p, err := ParseCheckpoint(c.String()); err != nil || p != c {
		t.Fatalf("ParseCheckpoint(String()) = %+v, %v; want %+v", p, err, c)
	}
}

func TestCheckpointAnyChangedByteFails(t *testing.T) {
	_, verifier := fixedKeys(t, origin, 1)
	signer, _ := fixedKeys(t, origin, 1)
	signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 42, Root: LeafHash([]byte("x"))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	for i := range signed {
		for _, bit := range []byte{0x01, 0x20, 0x80} {
			b := bytes.Clone(signed)
			b[i] ^= bit
			if c, _, err := OpenCheckpoint(b, verifier); err == nil {
				t.Fatalf("OpenCheckpoint with byte %d ^ %#x = %+v; want error", i, bit, c)
			}
		}
	}
	_, other := fixedKeys(t, origin, 2)
	if _, _, err := OpenCheckpoint(signed, other); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("OpenCheckpoint(other key) error = %v; want ErrCheckpoint", err)
	}
	// A key for another origin cannot speak for this one.
	fraSigner, _ := fixedKeys(t, "tearline.example/FRA", 1)
	if _, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 1}, fraSigner); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("SignCheckpoint(origin %s, signer FRA) error = %v; want ErrCheckpoint", origin, err)
	}
}

func TestParseCheckpointRejects(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, s := range []string{
		"",
		"o\n1\n" + root,
		"o\n1\n" + root + "\n\n",
		"o\n1\n" + root + "\next\n",
		"\n1\n" + root + "\n",
		"o o\n1\n" + root + "\n",
		"o+x\n1\n" + root + "\n",
		"o\n01\n" + root + "\n",
		"o\n-1\n" + root + "\n",
		"o\n+1\n" + root + "\n",
		"o\n18446744073709551616\n" + root + "\n",
		"o\n1\n" + root[:len(root)-1] + "\n",
		"o\n1\n" + strings.TrimSuffix(root, "=") + "\n",
		"o\n1\nAAAA\n",
	} {
		if c, err := ParseCheckpoint(s); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("ParseCheckpoint(%q) = %+v, %v; want ErrCheckpoint", s, c, err)
		}
	}
}
