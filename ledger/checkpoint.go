package ledger

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and its root hash. Extension lines are not used by Tearline and are
// rejected.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
}

// ErrCheckpoint is wrapped by every error about a malformed or badly signed
// checkpoint.
var ErrCheckpoint = errors.New("invalid checkpoint")

// maxCheckpointSize bounds a signed checkpoint with many cosignatures.
const maxCheckpointSize = 16 << 10

// String returns the checkpoint body: three lines, each ending in a newline.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (the text of the note, without
// signatures). It accepts exactly what String produces.
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	if len(text) > maxCheckpointSize || !utf8.ValidString(text) {
		return c, fmt.Errorf("%w: too long or not UTF-8", ErrCheckpoint)
	}
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return c, fmt.Errorf("%w: want 3 newline-terminated lines", ErrCheckpoint)
	}
	c.Origin = lines[0]
	if c.Origin == "" || strings.ContainsFunc(c.Origin, func(r rune) bool { return r < 0x21 || r == '+' || r == 0x7f }) {
		return Checkpoint{}, fmt.Errorf("%w: bad origin %q", ErrCheckpoint, c.Origin)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: bad size %q", ErrCheckpoint, lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("%w: bad root hash %q", ErrCheckpoint, lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// SignCheckpoint signs c with the node's key. The signer's name MUST be the
// origin, so that a verifier key names the log it speaks for.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("%w: signer %q is not origin %q", ErrCheckpoint, s.Name(), c.Origin)
	}
	if _, err := ParseCheckpoint(c.String()); err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: c.String()}, s)
}

// OpenCheckpoint verifies a signed checkpoint against the log's verifier
// keys (a node that rotated its key verifies old checkpoints with the old
// one) and parses it. The origin MUST be the verifiers' name. Signatures by
// other keys (cosignatures) are ignored here; see OpenCosigned.
func OpenCheckpoint(signed []byte, logs ...note.Verifier) (Checkpoint, *note.Note, error) {
	var keys []note.Verifier
	for _, v := range logs {
		if v != nil {
			keys = append(keys, v)
		}
	}
	if len(keys) == 0 {
		return Checkpoint{}, nil, fmt.Errorf("%w: no key to verify it with", ErrCheckpoint)
	}
	log := keys[0]
	if len(signed) > maxCheckpointSize {
		return Checkpoint{}, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCheckpoint, len(signed), maxCheckpointSize)
	}
	n, err := note.Open(signed, note.VerifierList(keys...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != log.Name() {
		return Checkpoint{}, nil, fmt.Errorf("%w: origin %q signed by key for %q", ErrCheckpoint, c.Origin, log.Name())
	}
	return c, n, nil
}

// Checkpoint signs the log's current size and root with the node key,
// stores the signed checkpoint and returns it.
func (l *Log) Checkpoint(ctx context.Context, s note.Signer) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.s.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	root, err := l.Root(ctx, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: s.Name(), Size: size, Root: root}, s)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := l.s.AddCheckpoint(ctx, signed); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return signed, nil
}
