package federation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline/ledger"
)

// memWitness is a node's witness state in memory, as tearline serve keeps
// it in files: the last checkpoint of each partner witnessed, and the
// partners' cosignatures of this node's checkpoints.
type memWitness struct {
	self *testNode
	tn   *testNet

	mu      sync.Mutex
	seen    map[string][]byte
	cosigns map[string][][]byte
	errs    []error
}

func (w *memWitness) Witness(ctx context.Context, code string, from uint64, signed []byte, proof [][]byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	logKey := ledger.NewVerifier("tearline/"+code, w.tn.nodes[code].node.SigningPublicKey)
	prev, size := w.seen[code], uint64(0)
	if prev != nil {
		cp, _, err := ledger.OpenCheckpoint(prev, logKey)
		if err != nil {
			return nil, err
		}
		size = cp.Size
	}
	if size != from {
		return nil, fmt.Errorf("%w: from %d, seen %d", ErrStaleCheckpoint, from, size)
	}
	wit := ledger.Witness{Log: logKey, Signer: ledger.NewCosigner("tearline/"+w.self.code, w.self.node.SigningKey, time.Now)}
	cosigned, err := wit.Cosign(signed, prev, proof)
	if err != nil {
		w.errs = append(w.errs, err)
		return nil, err
	}
	w.seen[code] = cosigned
	return cosigned, nil
}

func (w *memWitness) Cosigned(ctx context.Context, code string, cosigned []byte) error {
	own := ledger.NewVerifier("tearline/"+w.self.code, w.self.node.SigningPublicKey)
	_, names, err := ledger.OpenCosigned(cosigned, own, ledger.NewCosignatureVerifier("tearline/"+code, w.tn.nodes[code].node.SigningPublicKey))
	if err != nil || !slices.Contains(names, "tearline/"+code) {
		return fmt.Errorf("%w: %v", ErrBadCosignature, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cosigns[code] = append(w.cosigns[code], cosigned)
	return nil
}

func (w *memWitness) state(code string) (seen uint64, cosigns int, errs []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.seen[code]; s != nil {
		cp, _, err := ledger.OpenCheckpoint(s, ledger.NewVerifier("tearline/"+code, w.tn.nodes[code].node.SigningPublicKey))
		if err == nil {
			seen = cp.Size
		}
	}
	return seen, len(w.cosigns[code]), slices.Clone(w.errs)
}

// TestWitnessThroughHub: GBR and USA reach each other only through HUB.
// Each witnesses the other's log through the hub: while the hub alters
// the answers, nothing is witnessed nor cosigned; relaying faithfully,
// each sees the other's checkpoint, cosigns it, and the other keeps the
// cosignature; and once GBR's log grows, USA witnesses the growth with
// the consistency proof that came through the hub.
func TestWitnessThroughHub(t *testing.T) {
	tn := newNet(t, "GBR", "USA")
	hub := newTestHub(t, "HUB")
	hubEP := "https://" + hub.addr
	for _, m := range []string{"GBR", "USA"} {
		pinCard(t, hub.node, hubEP, tn.nodes[m].dir, m)
		pinCard(t, tn.nodes[m].node, "https://"+tn.nodes[m].addr, hub.dir, hub.code)
	}
	pinCard(t, tn.nodes["GBR"].node, hubEP, tn.nodes["USA"].dir, "USA")
	pinCard(t, tn.nodes["USA"].node, hubEP, tn.nodes["GBR"].dir, "GBR")
	witnesses := map[string]*memWitness{}
	for code, n := range tn.nodes {
		witnesses[code] = &memWitness{self: n, tn: tn, seen: map[string][]byte{}, cosigns: map[string][][]byte{}}
	}
	tn.tune = func(c *Config) {
		c.Hubs = []string{hub.code}
		c.PollInterval = 100 * time.Millisecond
		c.Witness = witnesses[c.Signer.Code]
	}
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	gbr.publish(labelled(t, matrixID(700), "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
	hub.start(t)
	tn.start(gbr)
	tn.start(usa)
	tn.waitSettled(30 * time.Second)
	ctx := context.Background()
	gbr.signCheckpoint()
	usa.signCheckpoint()
	if ok, err := usa.fed.AskCheckpoint(ctx, "FRA", 0); ok || err != nil {
		t.Errorf("AskCheckpoint of a partner not reached through a hub = %v, %v; want false, nil", ok, err)
	}
	ask := func(witness, partner string) {
		t.Helper()
		seen, _, _ := witnesses[witness].state(partner)
		if ok, err := tn.nodes[witness].fed.AskCheckpoint(ctx, partner, seen); !ok || err != nil {
			t.Fatalf("%s asks %s through the hub: %v, %v", witness, partner, ok, err)
		}
	}

	// The hub alters every answer: nothing is witnessed.
	hub.mode.Store(4)
	ask("USA", "GBR")
	ask("GBR", "USA")
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, c := range []*testNode{gbr, usa} {
			if !logged(c, `msg="hub message refused"`, "kind=answer", "relayed message altered") {
				return false, c.code + " has refused no altered answer"
			}
		}
		return true, ""
	})
	for _, p := range [][2]string{{"USA", "GBR"}, {"GBR", "USA"}} {
		if seen, _, _ := witnesses[p[0]].state(p[1]); seen != 0 {
			t.Errorf("%s witnessed %s's log at size %d from an answer the hub altered", p[0], p[1], seen)
		}
		if _, cosigns, _ := witnesses[p[1]].state(p[0]); cosigns != 0 {
			t.Errorf("%s keeps a cosignature by %s from an answer the hub altered", p[1], p[0])
		}
	}

	// Faithfully: witnessed, cosigned, and the cosignature kept.
	hub.mode.Store(0)
	first := map[string]uint64{}
	for _, p := range [][2]string{{"USA", "GBR"}, {"GBR", "USA"}} {
		eventually(t, 30*time.Second, func() (bool, string) {
			ask(p[0], p[1])
			seen, _, errs := witnesses[p[0]].state(p[1])
			_, cosigns, _ := witnesses[p[1]].state(p[0])
			first[p[0]] = seen
			return seen > 0 && cosigns > 0, fmt.Sprintf("%s witnessed %s at size %d, %s keeps %d cosignatures by it; errors %v", p[0], p[1], seen, p[1], cosigns, errs)
		})
	}

	// GBR's log grows: USA witnesses the growth.
	gbr.publish(labelled(t, matrixID(701), "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
	tn.waitSettled(30 * time.Second)
	gbr.signCheckpoint()
	eventually(t, 30*time.Second, func() (bool, string) {
		ask("USA", "GBR")
		seen, _, errs := witnesses["USA"].state("GBR")
		return seen > first["USA"], fmt.Sprintf("USA witnessed GBR at size %d, first at %d; errors %v", seen, first["USA"], errs)
	})
	for code, w := range witnesses {
		if _, _, errs := w.state(code); len(errs) != 0 {
			t.Errorf("%s's witness refused checkpoints: %v", code, errs)
		}
	}
}

// logged reports whether one line of the node's logs holds every part.
func logged(n *testNode, parts ...string) bool {
	logMu.Lock()
	defer logMu.Unlock()
	for _, line := range strings.Split(n.logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
