package partner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Dir is the directory of pinned partner cards in a node directory. Each
// pinned partner is partners/<CODE>.json (mode 0644), the card file as it
// was verified; a card replaced by a newer one is kept as
// partners/archive/<CODE>-<issued>-<fingerprint prefix>.json.
const Dir = "partners"

var (
	// ErrFingerprintRequired: the partner is not pinned yet, and no
	// fingerprint was given to check its card against.
	ErrFingerprintRequired = errors.New("fingerprint required to pin a new partner")
	// ErrFingerprintMismatch: the card's fingerprint is not the one given.
	ErrFingerprintMismatch = errors.New("partner card fingerprint does not match")
	// ErrOwnCard: the card is this node's own.
	ErrOwnCard = errors.New("partner card is this node's own")
	// ErrNotSignedByPinnedKey: the partner is pinned, and the new card is
	// not signed by the pinned signing key.
	ErrNotSignedByPinnedKey = errors.New("partner card is not signed by the pinned key")
	// ErrStaleCard: the partner is pinned with a card issued later: an old
	// card cannot come back.
	ErrStaleCard = errors.New("partner card is older than the pinned one")
	// ErrCardNotValid: the card's signing key is outside its validity
	// period, or the card is issued in the future.
	ErrCardNotValid = errors.New("partner card not valid now")
	// ErrUnknownPartner: no card is pinned for the partner code.
	ErrUnknownPartner = errors.New("unknown partner")
)

// maxClockSkew is how far in the future a card's issue time may be.
const maxClockSkew = 5 * time.Minute

// Store is the pinned partners of a node: the partners/ directory of its
// node directory.
type Store struct {
	dir  string
	self string
}

// NewStore returns the store of the node directory nodeDir, whose own
// partner code is self.
func NewStore(nodeDir, self string) *Store {
	return &Store{dir: filepath.Join(nodeDir, Dir), self: self}
}

// Pinned is a pinned partner card with its fingerprint.
type Pinned struct {
	Card        *Card
	Fingerprint Fingerprint
	// Path is the file it is pinned in.
	Path string
}

// AddOptions are the choices Add offers.
type AddOptions struct {
	// Fingerprint is the fingerprint the operator compared out of band,
	// as ParseFingerprint reads it. Required to pin a new partner; checked
	// if given for a pinned one.
	Fingerprint string
	// Replace allows replacing a pinned card with one that is not signed by
	// the pinned key (the partner lost or revoked it), given the new card's
	// fingerprint.
	Replace bool
	// Now is the time to judge the card's validity at; zero means
	// time.Now.
	Now time.Time
}

// AddResult says what Add did.
type AddResult struct {
	Card        *Card
	Fingerprint Fingerprint
	// Previous is the card that was pinned before, nil for a new partner.
	Previous *Pinned
	// Unchanged: the same card was already pinned.
	Unchanged bool
	// Rotation: the card replaced the pinned one on the strength of a
	// signature by the pinned key.
	Rotation bool
}

// Add verifies the card file data and pins it.
//
// A card for a partner not pinned yet is pinned only if its fingerprint is
// opts.Fingerprint. A card for a pinned partner replaces the pinned one
// only if it is not older and either signed by the pinned signing key (a key
// rotation; a fingerprint is then optional) or opts.Replace is set and
// opts.Fingerprint matches. The replaced card is archived, never lost.
// Add refuses this node's own card, a card whose signature does not verify,
// and a card whose signing key is not valid at opts.Now.
func (s *Store) Add(data []byte, opts AddOptions) (AddResult, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	c, err := Parse(data)
	if err != nil {
		return AddResult{}, err
	}
	fp, err := c.Fingerprint()
	if err != nil {
		return AddResult{}, err
	}
	res := AddResult{Card: c, Fingerprint: fp}
	if c.Partner == s.self {
		return res, fmt.Errorf("%w: it names partner %s, which is this node; give the card to the partner, and pin theirs", ErrOwnCard, c.Partner)
	}
	if !c.SigningKey.ValidAt(now) {
		return res, fmt.Errorf("%w: its signing key %s is valid from %s until %s", ErrCardNotValid, c.SigningKey.ID,
			formatTime(c.SigningKey.NotBefore), formatTime(c.SigningKey.NotAfter))
	}
	if c.Issued.After(now.Add(maxClockSkew)) {
		return res, fmt.Errorf("%w: it is issued at %s, in the future; check the clocks", ErrCardNotValid, formatTime(c.Issued))
	}
	var want *Fingerprint
	if opts.Fingerprint != "" {
		f, err := ParseFingerprint(opts.Fingerprint)
		if err != nil {
			return res, err
		}
		want = &f
	}
	if want != nil && *want != fp {
		return res, fmt.Errorf("%w: the card's fingerprint is %s, not %s; do not pin it, and check with the partner how the card reached you",
			ErrFingerprintMismatch, fp, want)
	}

	prev, err := s.Get(c.Partner)
	switch {
	case errors.Is(err, ErrUnknownPartner):
		if want == nil {
			return res, fmt.Errorf("%w: %s is not pinned yet; compare the card's fingerprint %s with the partner out of band (phone, meeting), then pass it with --fingerprint",
				ErrFingerprintRequired, c.Partner, fp)
		}
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return res, err
		}
		if err := writeNew(s.path(c.Partner), data, 0o644); err != nil {
			return res, err
		}
		return res, nil
	case err != nil:
		return res, err
	}
	res.Previous = prev
	if prev.Fingerprint == fp {
		res.Unchanged = true
		return res, nil
	}
	if c.Issued.Before(prev.Card.Issued) {
		return res, fmt.Errorf("%w: %s is pinned with a card issued %s; this one is issued %s", ErrStaleCard, c.Partner,
			formatTime(prev.Card.Issued), formatTime(c.Issued))
	}
	pk := prev.Card.SigningKey
	revokedByCard := slices.ContainsFunc(c.RevokedKeys, func(r RevokedKey) bool { return r.ID == pk.ID })
	switch {
	case c.SignedBy(pk.ID, pk.Public) && !revokedByCard:
		res.Rotation = true
	case opts.Replace && want != nil:
	default:
		return res, fmt.Errorf("%w: %s is pinned with signing key %s, and this card is not signed by it; if the partner lost or revoked that key, compare the new card's fingerprint %s out of band and run `tearline partner add CARDFILE --fingerprint %s --replace`",
			ErrNotSignedByPinnedKey, c.Partner, pk.ID, fp, fp)
	}
	if err := s.archive(prev); err != nil {
		return res, err
	}
	if err := replaceFile(s.path(c.Partner), data, 0o644); err != nil {
		return res, err
	}
	return res, nil
}

func (s *Store) path(code string) string { return filepath.Join(s.dir, code+".json") }

// archive keeps a copy of a pinned card that is about to be replaced.
func (s *Store) archive(p *Pinned) error {
	dir := filepath.Join(s.dir, "archive")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%s-%x.json", p.Card.Partner, p.Card.Issued.UTC().Format("20060102T150405Z"), p.Fingerprint[:8])
	err := os.Link(p.Path, filepath.Join(dir, name))
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("archive pinned card %s: %w", p.Path, err)
	}
	return nil
}

// Get returns the pinned card of partner code, or an error wrapping
// ErrUnknownPartner. A pinned file that no longer parses is an error, not
// an unknown partner.
func (s *Store) Get(code string) (*Pinned, error) {
	if !partnerCode.MatchString(code) {
		return nil, fmt.Errorf("%w: %q is not a partner code", ErrUnknownPartner, code)
	}
	path := s.path(code)
	data, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is not pinned (see `tearline partner add`)", ErrUnknownPartner, code)
	}
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("pinned card %s: %w", path, err)
	}
	if c.Partner != code {
		return nil, fmt.Errorf("pinned card %s: names partner %s", path, c.Partner)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		return nil, err
	}
	return &Pinned{Card: c, Fingerprint: fp, Path: path}, nil
}

// List returns the pinned partners, by partner code.
func (s *Store) List() ([]*Pinned, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Pinned
	for _, e := range entries {
		code, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		p, err := s.Get(code)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCardSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// writeNew writes data to path, which must not exist: a synced temporary
// file linked into place, so that a pinned card is never overwritten and
// never half written.
func writeNew(path string, data []byte, perm fs.FileMode) error {
	return writeVia(path, data, perm, func(tmp string) error {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; refusing to overwrite it", path)
			}
			return err
		}
		return nil
	})
}

// replaceFile replaces path with data atomically.
func replaceFile(path string, data []byte, perm fs.FileMode) error {
	return writeVia(path, data, perm, func(tmp string) error { return os.Rename(tmp, path) })
}

func writeVia(path string, data []byte, perm fs.FileMode, place func(tmp string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = io.Copy(tmp, bytes.NewReader(data))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(name)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if runtime.GOOS != "windows" {
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}
