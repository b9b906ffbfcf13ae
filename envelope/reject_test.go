package envelope

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// tamperFixture is a sealed envelope from GBR to FRA (two keys) and NLD,
// with three objects.
type tamperFixture struct {
	gbr      Signer
	fra, nld testNode
	fra2     testNode
	batch    *Batch
	env      []byte
}

func newTamperFixture(t *testing.T) *tamperFixture {
	t.Helper()
	f := &tamperFixture{
		gbr:  testSigner(t, "GBR"),
		fra:  newTestNode(t, "FRA", 1),
		fra2: newTestNode(t, "FRA", 2),
		nld:  newTestNode(t, "NLD", 1),
	}
	f.batch = testBatch(t, 3, 200, 41)
	f.env = mustSeal(t, f.batch, f.gbr, recipientsOf(f.fra, f.fra2, f.nld))
	return f
}

func flipped(b []byte, i int, mask byte) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= mask
	return c
}

// TestTamperEnvelope flips every byte of the envelope, twice (all bits, then
// the lowest bit), and checks that Open refuses each change with the reason
// that belongs to the part changed.
func TestTamperEnvelope(t *testing.T) {
	f := newTamperFixture(t)
	resolve := resolverFor(f.gbr)
	if _, err := f.fra.open(f.env, resolve); err != nil {
		t.Fatalf("Open(untampered) = %v", err)
	}
	header, ct, _ := splitEnvelope(t, f.env)
	fields, _ := headerFields(t, header)
	hStart := 12
	ctStart := hStart + len(header) + 4
	sigStart := ctStart + len(ct)

	// What each header field may be refused as: a changed field of a
	// well-formed header is ErrHeaderTampered; one whose change breaks the
	// structure is ErrMalformed; a changed sender or key id names a key the
	// receiver does not know.
	headerReasons := map[string][]error{
		"version":            {ErrUnsupportedVersion},
		"suite":              {ErrHeaderTampered},
		"sender-len":         {ErrMalformed, ErrUnknownKey},
		"sender":             {ErrMalformed, ErrUnknownKey},
		"sender-key-id-len":  {ErrMalformed, ErrUnknownKey},
		"sender-key-id":      {ErrMalformed, ErrUnknownKey},
		"created":            {ErrHeaderTampered},
		"sequence":           {ErrHeaderTampered},
		"object-count":       {ErrHeaderTampered, ErrMalformed},
		"recipient-count":    {ErrMalformed},
		"recipient-len":      {ErrMalformed},
		"recipient":          {ErrMalformed, ErrHeaderTampered},
		"wrapped-count":      {ErrMalformed},
		"wrapped-code-len":   {ErrMalformed},
		"wrapped-code":       {ErrMalformed, ErrHeaderTampered},
		"wrapped-key-id-len": {ErrMalformed, ErrHeaderTampered},
		"wrapped-key-id":     {ErrMalformed, ErrHeaderTampered},
		"wrapped-data-len":   {ErrMalformed},
		"wrapped-data":       {ErrHeaderTampered},
	}
	reasonsAt := func(i int) (string, []error) {
		switch {
		case i < 8:
			return "magic", []error{ErrMalformed}
		case i < hStart:
			return "header length", []error{ErrMalformed}
		case i < ctStart-4:
			for _, fl := range fields {
				if i-hStart >= fl.start && i-hStart < fl.end {
					return "header " + fl.kind, headerReasons[fl.kind]
				}
			}
			t.Fatalf("offset %d is in no header field", i)
		case i < ctStart:
			return "ciphertext length", []error{ErrMalformed}
		case i < sigStart:
			return "ciphertext", []error{ErrContentTampered}
		case i < sigStart+32:
			return "signed header hash", []error{ErrBadSignature}
		case i < sigStart+64:
			return "signed root", []error{ErrBadSignature}
		case i < sigStart+96:
			return "signed ciphertext hash", []error{ErrBadSignature}
		}
		return "signature", []error{ErrBadSignature}
	}

	counts := make(map[string]map[error]int)
	for i := range f.env {
		part, reasons := reasonsAt(i)
		if counts[part] == nil {
			counts[part] = make(map[error]int)
		}
		for _, mask := range []byte{0xff, 0x01} {
			_, err := f.fra.open(flipped(f.env, i, mask), resolve)
			if err == nil {
				t.Fatalf("Open(byte %d (%s) ^ %#02x) = nil; want it refused", i, part, mask)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Open(byte %d (%s) ^ %#02x) = %T %v; want an *Error", i, part, mask, err, err)
			}
			if !isOneOf(err, reasons...) {
				t.Fatalf("Open(byte %d (%s) ^ %#02x) = %v; want one of %v", i, part, mask, err, reasons)
			}
			counts[part][e.Reason]++
		}
	}
	// The specific reasons were actually reached, not just allowed.
	for part, want := range map[string]error{
		"header suite": ErrHeaderTampered, "header created": ErrHeaderTampered, "header sequence": ErrHeaderTampered,
		"header wrapped-data": ErrHeaderTampered, "header wrapped-key-id": ErrHeaderTampered,
		"header sender": ErrUnknownKey, "header sender-key-id": ErrUnknownKey, "header version": ErrUnsupportedVersion,
		"ciphertext": ErrContentTampered, "signature": ErrBadSignature, "signed root": ErrBadSignature,
		"magic": ErrMalformed,
	} {
		if counts[part][want] == 0 {
			t.Errorf("no flip in %s was refused as %v; reasons seen: %v", part, want, counts[part])
		}
	}
}

func TestTruncatedAndExtended(t *testing.T) {
	f := newTamperFixture(t)
	resolve := resolverFor(f.gbr)
	for n := range len(f.env) {
		if _, err := f.fra.open(f.env[:n], resolve); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Open(first %d of %d bytes) = %v; want %v", n, len(f.env), err, ErrMalformed)
		}
	}
	if _, err := f.fra.open(append(f.env[:len(f.env):len(f.env)], 0), resolve); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Open(envelope + 1 byte) = %v; want %v", err, ErrMalformed)
	}
}

// TestTamperProof flips every byte of every path hash and of the leaf, and
// changes the index, the content hash and the label hash, and checks that
// VerifyObject refuses each with its reason.
func TestTamperProof(t *testing.T) {
	gbr := testSigner(t, "GBR")
	fra := newTestNode(t, "FRA", 1)
	pub := gbr.Key.Public().(ed25519.PublicKey)
	b := testBatch(t, 11, 200, 1)
	opened, err := fra.open(mustSeal(t, b, gbr, recipientsOf(fra)), resolverFor(gbr))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(o Received, p *Proof) error {
		_, err := VerifyObject(opened.HeaderBytes, &opened.Signature, pub, o.ContentHash, o.LabelHash, p)
		return err
	}
	for i, o := range opened.Objects {
		if err := verify(o, &o.Proof); err != nil {
			t.Fatalf("VerifyObject(object %d) = %v", i, err)
		}
		for j := range o.Proof.Path {
			for k := range 32 {
				for _, mask := range []byte{0xff, 0x01} {
					p := o.Proof
					p.Path = append([][32]byte(nil), p.Path...)
					p.Path[j][k] ^= mask
					if err := verify(o, &p); !errors.Is(err, ErrPathTampered) {
						t.Fatalf("VerifyObject(object %d, path hash %d byte %d ^ %#02x) = %v; want %v", i, j, k, mask, err, ErrPathTampered)
					}
				}
			}
		}
		for k := range 32 {
			p := o.Proof
			p.Leaf[k] ^= 1
			if err := verify(o, &p); !errors.Is(err, ErrPathTampered) {
				t.Fatalf("VerifyObject(object %d, leaf byte %d flipped) = %v; want %v", i, k, err, ErrPathTampered)
			}
		}
		for _, idx := range []uint64{uint64(i) ^ 1, uint64(i) + 11, 1 << 40} {
			p := o.Proof
			p.Index = idx
			if err := verify(o, &p); !errors.Is(err, ErrPathTampered) {
				t.Fatalf("VerifyObject(object %d at index %d) = %v; want %v", i, idx, err, ErrPathTampered)
			}
		}
		p := o.Proof
		p.Path = p.Path[:len(p.Path)-1]
		if err := verify(o, &p); !errors.Is(err, ErrPathTampered) {
			t.Fatalf("VerifyObject(object %d, path one short) = %v; want %v", i, err, ErrPathTampered)
		}
		p.Path = append(append([][32]byte(nil), o.Proof.Path...), [32]byte{})
		if err := verify(o, &p); !errors.Is(err, ErrPathTampered) {
			t.Fatalf("VerifyObject(object %d, path one long) = %v; want %v", i, err, ErrPathTampered)
		}
		for k := range 32 {
			c, l := o, o
			c.ContentHash[k] ^= 1
			l.LabelHash[k] ^= 1
			if err := verify(c, &o.Proof); !errors.Is(err, ErrObjectTampered) {
				t.Fatalf("VerifyObject(object %d, content hash byte %d flipped) = %v; want %v", i, k, err, ErrObjectTampered)
			}
			if err := verify(l, &o.Proof); !errors.Is(err, ErrObjectTampered) {
				t.Fatalf("VerifyObject(object %d, label hash byte %d flipped) = %v; want %v", i, k, err, ErrObjectTampered)
			}
		}
		// Another object's proof does not vouch for this object.
		other := opened.Objects[(i+1)%len(opened.Objects)].Proof
		if err := verify(o, &other); !errors.Is(err, ErrObjectTampered) {
			t.Fatalf("VerifyObject(object %d with object %d's proof) = %v; want %v", i, (i+1)%len(opened.Objects), err, ErrObjectTampered)
		}
	}

	// The header and signature are checked as in Open.
	o := opened.Objects[0]
	hb := flipped(opened.HeaderBytes, 20, 1) // inside the sender key id or created: see headerFields
	if _, err := VerifyObject(hb, &opened.Signature, pub, o.ContentHash, o.LabelHash, &o.Proof); !isOneOf(err, ErrHeaderTampered, ErrMalformed) {
		t.Errorf("VerifyObject(tampered header) = %v; want %v", err, ErrHeaderTampered)
	}
	sig := opened.Signature
	sig.Value[5] ^= 1
	if _, err := VerifyObject(opened.HeaderBytes, &sig, pub, o.ContentHash, o.LabelHash, &o.Proof); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyObject(tampered signature) = %v; want %v", err, ErrBadSignature)
	}
	sig = opened.Signature
	sig.Root[0] ^= 1
	if _, err := VerifyObject(opened.HeaderBytes, &sig, pub, o.ContentHash, o.LabelHash, &o.Proof); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyObject(tampered root) = %v; want %v", err, ErrBadSignature)
	}
	other := testSigner(t, "FRA").Key.Public().(ed25519.PublicKey)
	if _, err := VerifyObject(opened.HeaderBytes, &opened.Signature, other, o.ContentHash, o.LabelHash, &o.Proof); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyObject(another key) = %v; want %v", err, ErrBadSignature)
	}
}

func TestNotRecipient(t *testing.T) {
	f := newTamperFixture(t)
	resolve := resolverFor(f.gbr)
	deu := newTestNode(t, "DEU", 1)
	fra3 := newTestNode(t, "FRA", 3)
	for _, tc := range []struct {
		name string
		as   testNode
		want error
	}{
		{"another partner", deu, ErrNotRecipient},
		{"a recipient's unlisted key", fra3, ErrNotRecipient},
		{"a partner claiming a recipient's code", testNode{code: "NLD", keyID: deu.keyID, priv: deu.priv}, ErrNotRecipient},
		{"a recipient's key id with another private key", testNode{code: "FRA", keyID: f.fra.keyID, priv: deu.priv}, ErrKeyUnwrap},
		{"a recipient's key id listed under another code", testNode{code: "NLD", keyID: f.fra.keyID, priv: f.fra.priv}, ErrNotRecipient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.as.open(f.env, resolve); !errors.Is(err, tc.want) {
				t.Fatalf("Open(as %s key %s) = %v; want %v", tc.as.code, tc.as.keyID, err, tc.want)
			}
		})
	}
	for _, n := range []testNode{f.fra, f.fra2, f.nld} {
		if _, err := n.open(f.env, resolve); err != nil {
			t.Errorf("Open(as %s key %s) = %v; want it opened", n.code, n.keyID, err)
		}
	}
}

func TestReplay(t *testing.T) {
	gbr := testSigner(t, "GBR")
	fra, nld := newTestNode(t, "FRA", 1), newTestNode(t, "NLD", 1)
	resolve := resolverFor(gbr)
	seal := func(seq uint64, to ...testNode) []byte {
		return mustSeal(t, testBatch(t, 2, 200, seq), gbr, recipientsOf(to...))
	}
	env5, env6, env4 := seal(5, fra, nld), seal(6, fra), seal(4, fra, nld)
	guard := &MemoryReplayGuard{}
	open := func(env []byte, as testNode) error {
		_, err := Open(env, as.code, as.keyID, as.priv, resolve, guard)
		return err
	}
	steps := []struct {
		name string
		env  []byte
		as   testNode
		want error
	}{
		{"first batch", env5, fra, nil},
		{"same batch again", env5, fra, ErrReplay},
		{"same batch, other recipient's stream", env5, nld, nil},
		{"next batch", env6, fra, nil},
		{"older batch", env4, fra, ErrReplay},
		{"older batch, other stream still at 5", env4, nld, ErrReplay},
		{"newer batch replayed", env6, fra, ErrReplay},
	}
	for _, s := range steps {
		if err := open(s.env, s.as); !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Fatalf("%s: Open(as %s) = %v; want %v", s.name, s.as.code, err, s.want)
		}
	}

	// A refused envelope does not advance the stream.
	g := &MemoryReplayGuard{}
	bad := flipped(env6, len(env6)-1, 1)
	if _, err := Open(bad, fra.code, fra.keyID, fra.priv, resolve, g); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Open(bad signature) = %v; want %v", err, ErrBadSignature)
	}
	if _, err := Open(env5, fra.code, fra.keyID, fra.priv, resolve, g); err != nil {
		t.Fatalf("Open(seq 5 after a refused seq 6) = %v; want it accepted", err)
	}
}

type failingGuard struct{}

func (failingGuard) Seen(string, string, uint64) error { return errors.New("database is locked") }

func TestResolverAndGuardFailures(t *testing.T) {
	f := newTamperFixture(t)
	revoked := func(sender, keyID string) (ed25519.PublicKey, error) {
		return nil, fmt.Errorf("%w: %s key %s revoked 2026-02-01", ErrKeyRevoked, sender, keyID)
	}
	_, err := f.fra.open(f.env, revoked)
	if !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("Open(revoked sender key) = %v; want %v", err, ErrKeyRevoked)
	}
	if _, err := f.fra.open(f.env, resolverFor(testSigner(t, "GBX"))); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open(unknown sender key) = %v; want %v", err, ErrUnknownKey)
	}
	nilKey := func(string, string) (ed25519.PublicKey, error) { return nil, nil }
	if _, err := f.fra.open(f.env, nilKey); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open(resolver returns no key) = %v; want %v", err, ErrUnknownKey)
	}
	// Another partner's genuine key, returned for GBR's key id, does not verify.
	wrongKey := func(string, string) (ed25519.PublicKey, error) {
		return testSigner(t, "FRA").Key.Public().(ed25519.PublicKey), nil
	}
	if _, err := f.fra.open(f.env, wrongKey); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Open(resolver gives another key) = %v; want %v", err, ErrBadSignature)
	}
	down := errors.New("key store unreachable")
	failing := func(string, string) (ed25519.PublicKey, error) { return nil, down }
	if _, err := f.fra.open(f.env, failing); !errors.Is(err, down) {
		t.Errorf("Open(resolver fails) = %v; want it to wrap %v", err, down)
	}
	if _, err := Open(f.env, f.fra.code, f.fra.keyID, f.fra.priv, resolverFor(f.gbr), failingGuard{}); err == nil {
		t.Errorf("Open(replay guard fails) = nil; want an error")
	}
	if _, err := Open(f.env, f.fra.code, f.fra.keyID, f.fra.priv, resolverFor(f.gbr), nil); err == nil {
		t.Errorf("Open(no replay guard) = nil; want an error")
	}
}

// TestDowngrade changes each algorithm identifier. An attacker who re-signs
// without the sender's key gets ErrBadSignature; the genuine sender signing
// an unsupported identifier gets ErrUnsupportedAlgorithm. Neither is ever
// decrypted.
func TestDowngrade(t *testing.T) {
	f := newTamperFixture(t)
	resolve := resolverFor(f.gbr)
	mallory := testSigner(t, "GBR") // same code and key id claimed, another key:
	mallory.Key = ed25519.NewKeyFromSeed(seed32("mallory"))
	names := []string{"signature", "kem", "kdf", "aead", "content aead", "hash"}
	others := []uint16{0x0000, 0x0020, 0x0010, 0x0001, 0x0003, 0x0041, 0x0042, 0xffff}
	for i, name := range names {
		for _, id := range others {
			setID := func(header, plain []byte) ([]byte, []byte) {
				if binary.BigEndian.Uint16(header[2+2*i:]) == id {
					id ^= 0x8000
				}
				binary.BigEndian.PutUint16(header[2+2*i:], id)
				return header, plain
			}
			forged := resign(t, f.env, f.fra, mallory.Key, setID)
			if _, err := f.fra.open(forged, resolve); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Open(%s id %#04x, re-signed by an attacker) = %v; want %v", name, id, err, ErrBadSignature)
			}
			genuine := resign(t, f.env, f.fra, f.gbr.Key, setID)
			_, err := f.fra.open(genuine, resolve)
			if !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("Open(%s id %#04x, signed by the sender) = %v; want %v", name, id, err, ErrUnsupportedAlgorithm)
			}
		}
	}
	// The same procedure without a change opens: the refusals above are
	// the identifiers', not resign's.
	same := resign(t, f.env, f.fra, f.gbr.Key, func(h, p []byte) ([]byte, []byte) { return h, p })
	if _, err := f.fra.open(same, resolve); err != nil {
		t.Fatalf("Open(re-signed unchanged by the sender) = %v", err)
	}
}

// TestSenderInconsistent: a sender that signs content which does not match
// its own bindings is refused with the specific reason.
func TestSenderInconsistent(t *testing.T) {
	f := newTamperFixture(t)
	resolve := resolverFor(f.gbr)
	firstObject := 4 // content: count, then content hash, label hash, length, JSON
	for _, tc := range []struct {
		name   string
		mutate func(plain []byte) []byte
		want   error
	}{
		{"label hash changed", func(p []byte) []byte { p[firstObject+32] ^= 1; return p }, ErrObjectTampered},
		{"content hash changed", func(p []byte) []byte { p[firstObject+3] ^= 1; return p }, ErrObjectTampered},
		{"JSON changed", func(p []byte) []byte { p[firstObject+68+40] ^= 1; return p }, ErrObjectTampered},
		{"JSON made invalid", func(p []byte) []byte { p[firstObject+68] = '['; return p }, ErrObjectTampered},
		{"object count wrong", func(p []byte) []byte { p[3]++; return p }, ErrMalformed},
		{"trailing byte", func(p []byte) []byte { return append(p, 0) }, ErrMalformed},
		{"object length too long", func(p []byte) []byte { p[firstObject+64] = 0xff; return p }, ErrMalformed},
		{"object length zero", func(p []byte) []byte { clear(p[firstObject+64 : firstObject+68]); return p }, ErrMalformed},
		{"empty content", func(p []byte) []byte { return p[:0] }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := resign(t, f.env, f.fra, f.gbr.Key, func(h, p []byte) ([]byte, []byte) { return h, tc.mutate(p) })
			if _, err := f.fra.open(env, resolve); !errors.Is(err, tc.want) {
				t.Fatalf("Open() = %v; want %v", err, tc.want)
			}
		})
	}

	// A sender whose Object.Hash is wrong is caught by the recipient.
	b := testBatch(t, 3, 300, 1)
	b.Items[1].Object.Hash[0] ^= 1
	env := mustSeal(t, b, f.gbr, recipientsOf(f.fra))
	if _, err := f.fra.open(env, resolve); !errors.Is(err, ErrObjectTampered) {
		t.Fatalf("Open(batch with a wrong content hash) = %v; want %v", err, ErrObjectTampered)
	}
}

// TestMemoryReplayGuardConcurrent: of many concurrent attempts with the
// same sequence number, exactly one is accepted.
func TestMemoryReplayGuardConcurrent(t *testing.T) {
	var g MemoryReplayGuard
	const n = 64
	errs := make(chan error, n)
	for range n {
		go func() { errs <- g.Seen("GBR", "FRA", 9) }()
	}
	accepted := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrReplay):
			t.Fatalf("Seen() = %v; want nil or %v", err, ErrReplay)
		}
	}
	if accepted != 1 {
		t.Fatalf("%d of %d concurrent Seen(GBR, FRA, 9) accepted; want 1", accepted, n)
	}
	if err := g.Seen("GBR", "FRA", 0); !errors.Is(err, ErrReplay) {
		t.Fatalf("Seen(seq 0 after 9) = %v; want %v", err, ErrReplay)
	}
	if err := g.Seen("GBR", "NLD", 0); err != nil {
		t.Fatalf("Seen(new stream, seq 0) = %v; want nil", err)
	}
}
