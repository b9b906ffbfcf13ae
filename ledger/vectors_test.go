package ledger

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the fuzz seed corpora")

// vectors is the format of testdata/vectors.json: what any implementation
// of the Tearline ledger must reproduce byte for byte.
type vectors struct {
	KeySeedByte     byte     `json:"key_seed_byte"`     // Ed25519 seed: 32 copies of this byte
	WitnessSeedByte byte     `json:"witness_seed_byte"` // witness Ed25519 seed, likewise
	WitnessTime     int64    `json:"witness_time"`
	Origin          string   `json:"origin"`
	Witness         string   `json:"witness"`
	VerifierKey     string   `json:"verifier_key"`
	Entries         []string `json:"entries"`     // canonical JSON events
	LeafHashes      []string `json:"leaf_hashes"` // hex
	Root            string   `json:"root"`        // hex
	Checkpoint      string   `json:"checkpoint"`  // signed note
	Cosigned        string   `json:"cosigned"`    // with the witness's tlog-cosignature/v1
}

func makeVectors(t *testing.T) vectors {
	ctx := context.Background()
	v := vectors{KeySeedByte: 1, WitnessSeedByte: 3, WitnessTime: 1772409600, Origin: origin, Witness: "tearline.example/FRA"}
	l, _, entries := newLog(t, 5)
	for _, e := range entries {
		lh := LeafHash(e)
		v.Entries = append(v.Entries, string(e))
		v.LeafHashes = append(v.LeafHashes, hex.EncodeToString(lh[:]))
	}
	root, err := l.Root(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	v.Root = hex.EncodeToString(root[:])
	signer, verifier := fixedKeys(t, v.Origin, v.KeySeedByte)
	v.VerifierKey = verifierKeyString(t, v.Origin, v.KeySeedByte)
	cp, err := l.Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	v.Checkpoint = string(cp)
	w := &Witness{Log: verifier, Signer: fixedCosigner(v.Witness, v.WitnessSeedByte, time.Unix(v.WitnessTime, 0))}
	co, err := w.Cosign(cp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.Cosigned = string(co)
	return v
}

func TestVectors(t *testing.T) {
	got := makeVectors(t)
	path := filepath.Join("testdata", "vectors.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("vectors differ from %s:\ngot  %+v\nwant %+v", path, got, want)
	}
	// The stored vectors check out independently of the code that made them.
	var entries [][]byte
	for i, e := range want.Entries {
		entries = append(entries, []byte(e))
		if h := hex.EncodeToString(refLeaf([]byte(e))); h != want.LeafHashes[i] {
			t.Errorf("reference leaf hash %d = %s; file says %s", i, h, want.LeafHashes[i])
		}
		if _, err := DecodeEvent([]byte(e)); err != nil {
			t.Errorf("DecodeEvent(vector %d): %v", i, err)
		}
	}
	if h := hex.EncodeToString(refMTH(entries)); h != want.Root {
		t.Errorf("reference root = %s; file says %s", h, want.Root)
	}
	_, verifier := fixedKeys(t, want.Origin, want.KeySeedByte)
	c, names, err := OpenCosigned([]byte(want.Cosigned), verifier, fixedCosigner(want.Witness, want.WitnessSeedByte, time.Time{}).Verifier())
	if err != nil || len(names) != 1 || hex.EncodeToString(c.Root[:]) != want.Root {
		t.Errorf("OpenCosigned(vector) = %+v, %v, %v", c, names, err)
	}
}
