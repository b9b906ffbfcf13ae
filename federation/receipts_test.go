package federation

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// signCheckpoint has the node sign its log's checkpoint, as tearline
// serve does every few seconds.
func (n *testNode) signCheckpoint() {
	n.t.Helper()
	n.mu.Lock()
	st := n.ledger
	n.mu.Unlock()
	if _, err := ledger.New(st).Checkpoint(context.Background(), ledger.NewSigner("tearline/"+n.code, n.node.SigningKey)); err != nil {
		n.t.Fatalf("%s: checkpoint: %v", n.code, err)
	}
}

func (n *testNode) receipts(role mailbox.Role) []mailbox.BatchReceipt {
	n.t.Helper()
	n.mu.Lock()
	s := n.store
	n.mu.Unlock()
	var out []mailbox.BatchReceipt
	rs, err := s.Receipts(context.Background(), mailbox.ReceiptQuery{})
	if err != nil {
		n.t.Fatal(err)
	}
	for _, r := range rs {
		if r.Role == role {
			out = append(out, r)
		}
	}
	return out
}

func throughs(rs []mailbox.BatchReceipt) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, r.Through)
	}
	return out
}

// TestReceipts: GBR and FRA exchange objects in several batches each way;
// once each has signed a checkpoint, each holds, for every batch it sent,
// the other's verified entry of receiving it and, for every batch it
// received, the other's verified entry of sending it, each checked here
// again against the partner's key.
func TestReceipts(t *testing.T) {
	tn := newNet(t, "GBR", "FRA")
	tn.tune = func(c *Config) {
		c.MaxBatch = 4
		c.ReceiptInterval = time.Hour // collected by the test
	}
	tn.startAll()
	gbr, fra := tn.nodes["GBR"], tn.nodes["FRA"]
	for i := 1; i <= 10; i++ {
		gbr.publish(labelled(t, matrixID(100+i), "GBR SECRET//REL TO GBR, FRA", "counter-terrorism"))
		if i <= 6 {
			fra.publish(labelled(t, matrixID(200+i), "FRA SECRET//REL TO GBR, FRA", "counter-terrorism"))
		}
	}
	tn.waitSettled(60 * time.Second)
	ctx := context.Background()

	// Before any checkpoint, nothing can be proved: receipts stay pending.
	for _, n := range []*testNode{gbr, fra} {
		if v, f, err := n.fed.CollectReceipts(ctx); err != nil || v != 0 || f != 0 {
			t.Fatalf("%s: CollectReceipts before checkpoints = %d verified, %d failed, %v; want none", n.code, v, f, err)
		}
	}
	gbr.signCheckpoint()
	fra.signCheckpoint()
	for _, n := range []*testNode{gbr, fra} {
		if _, f, err := n.fed.CollectReceipts(ctx); err != nil || f != 0 {
			t.Fatalf("%s: CollectReceipts = %d failed, %v", n.code, f, err)
		}
	}
	for _, pair := range [][2]*testNode{{gbr, fra}, {fra, gbr}} {
		sender, recipient := pair[0], pair[1]
		sent, received := sender.receipts(mailbox.RoleSender), recipient.receipts(mailbox.RoleRecipient)
		if len(received) < 2 {
			t.Fatalf("%s received %d batches from %s; want several (batches of 4)", recipient.code, len(received), sender.code)
		}
		// A batch may be sent and not applied, when the recipient asks
		// for its range again and gets a longer one: every batch
		// received was sent, not the other way round.
		for _, th := range throughs(received) {
			if !slices.Contains(throughs(sent), th) {
				t.Errorf("%s received batch %d from %s, which holds no receipt of sending it (%v)", recipient.code, th, sender.code, throughs(sent))
			}
		}
		for _, side := range []struct {
			holder, other *testNode
			rs            []mailbox.BatchReceipt
		}{{sender, recipient, sent}, {recipient, sender, received}} {
			key := ledger.NewVerifier("tearline/"+side.other.code, side.other.node.SigningPublicKey)
			for _, r := range side.rs {
				if r.Pending() || r.Failure != "" {
					t.Errorf("%s's receipt of batch %d with %s: %+v; want verified", side.holder.code, r.Through, r.Partner, r)
					continue
				}
				cp, _, err := ledger.OpenCheckpoint(r.Checkpoint, key)
				if err != nil {
					t.Errorf("%s's receipt of batch %d: checkpoint: %v", side.holder.code, r.Through, err)
					continue
				}
				if err := ledger.VerifyInclusion(r.PartnerEntry, r.PartnerIndex, cp.Size, cp.Root, r.Proof); err != nil {
					t.Errorf("%s's receipt of batch %d: %v", side.holder.code, r.Through, err)
				}
				ev, err := ledger.DecodeEvent(r.PartnerEntry)
				end, _ := strconv.ParseUint(ev.Details["through"], 10, 64)
				after, _ := strconv.ParseUint(ev.Details["after"], 10, 64)
				if err != nil || end < r.Through || after >= r.Through || (side.rs[0].Role == mailbox.RoleRecipient && end != r.Through) {
					t.Errorf("%s's receipt of batch %d holds %+v, %v", side.holder.code, r.Through, ev, err)
				}
				// The holder's own side is its own entry of the batch.
				own, err := side.holder.ledger.Entry(ctx, r.Index)
				if err != nil {
					t.Fatal(err)
				}
				if oe, _ := ledger.DecodeEvent(own); oe.Details["through"] != strconv.FormatUint(r.Through, 10) {
					t.Errorf("%s's own entry %d of batch %d is %+v", side.holder.code, r.Index, r.Through, oe)
				}
			}
		}
	}
	gbr.verifyLedger()
	fra.verifyLedger()
}

// TestReceiptForged: answers that do not prove what they claim are
// refused. A changed proof hash, an entry of another batch, and a
// checkpoint not signed by the partner fail verification; and a partner
// whose store points at the wrong entry gets its receipt refused, with an
// alert in the refusing node's audit log and the failure kept.
func TestReceiptForged(t *testing.T) {
	tn := newNet(t, "GBR", "FRA")
	tn.tune = func(c *Config) {
		c.MaxBatch = 3
		c.ReceiptInterval = time.Hour
	}
	tn.startAll()
	gbr, fra := tn.nodes["GBR"], tn.nodes["FRA"]
	for i := 1; i <= 9; i++ {
		gbr.publish(labelled(t, matrixID(300+i), "GBR SECRET//REL TO GBR, FRA", "counter-terrorism"))
	}
	tn.waitSettled(60 * time.Second)
	gbr.signCheckpoint()
	ctx := context.Background()
	pending := fra.receipts(mailbox.RoleRecipient)
	if len(pending) < 3 {
		t.Fatalf("FRA has %d receipts to collect; want 3", len(pending))
	}
	l := fra.fed.link("GBR")
	answer := func(r mailbox.BatchReceipt) []byte {
		body, err := fra.fed.fetchBatchEntry(ctx, l, mailbox.RoleSender, r.Through)
		if err != nil {
			t.Fatalf("GBR's entry of batch %d: %v", r.Through, err)
		}
		return body
	}
	first, second := pending[0], pending[1]
	good := answer(first)
	if _, err := fra.fed.verifyBatchEntry(first, good, time.Now()); err != nil {
		t.Fatalf("GBR's true answer for batch %d does not verify: %v", first.Through, err)
	}
	edit := func(body []byte, f func(e *BatchEntry)) []byte {
		var e BatchEntry
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		f(&e)
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	otherKey := ledger.NewSigner("tearline/GBR", fra.node.SigningKey)
	for name, body := range map[string][]byte{
		"changed proof hash": edit(good, func(e *BatchEntry) {
			h, _ := hex.DecodeString(e.Proof[0])
			h[0] ^= 1
			e.Proof[0] = hex.EncodeToString(h)
		}),
		"changed entry": edit(good, func(e *BatchEntry) {
			changed := strings.Replace(string(e.Entry), `"actor":"GBR node"`, `"actor":"GBR nodf"`, 1)
			if changed == string(e.Entry) {
				t.Fatalf("GBR's entry %s names no actor", e.Entry)
			}
			e.Entry = []byte(changed)
		}),
		"other index": edit(good, func(e *BatchEntry) { e.Index++ }),
		"entry of another batch, with its true proof": answer(second),
		"checkpoint signed by another key": edit(good, func(e *BatchEntry) {
			cp, _, err := ledger.OpenCheckpoint([]byte(e.Checkpoint), ledger.NewVerifier("tearline/GBR", gbr.node.SigningPublicKey))
			if err != nil {
				t.Fatal(err)
			}
			signed, err := ledger.SignCheckpoint(cp, otherKey)
			if err != nil {
				t.Fatal(err)
			}
			e.Checkpoint = string(signed)
		}),
	} {
		if _, err := fra.fed.verifyBatchEntry(first, body, time.Now()); err == nil {
			t.Errorf("%s: verifyBatchEntry accepted it", name)
		}
	}

	// GBR's store points FRA's question about the first batch at its
	// entry of the second.
	db, err := sql.Open("tearline-sqlite3", "file:"+filepath.Join(gbr.dir, "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var secondIndex int64
	if err := db.QueryRow(`SELECT own_index FROM receipts WHERE partner = 'FRA' AND role = 'sender' AND through = ?`, int64(second.Through)).Scan(&secondIndex); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE receipts SET own_index = ? WHERE partner = 'FRA' AND role = 'sender' AND through = ?`, secondIndex, int64(first.Through)); err != nil {
		t.Fatal(err)
	}
	v, f, err := fra.fed.CollectReceipts(ctx)
	if err != nil || f != 1 || v != len(pending)-1 {
		t.Fatalf("CollectReceipts = %d verified, %d failed, %v; want %d verified, 1 failed", v, f, err, len(pending)-1)
	}
	got := fra.receipts(mailbox.RoleRecipient)
	if got[0].Through != first.Through || got[0].Failure == "" || !got[0].Verified.IsZero() {
		t.Errorf("FRA's receipt of batch %d = %+v; want refused", first.Through, got[0])
	}
	alerts := fra.events(ledger.KindAlertRaised)
	if !hasEvent(alerts, func(e ledger.Event) bool {
		return e.Details["alert"] == "receipt-refused" && e.Details["through"] == strconv.FormatUint(first.Through, 10) && slices.Equal(e.Subjects, []string{"GBR"})
	}) {
		t.Errorf("FRA's audit log has no alert for the refused receipt: %+v", alerts)
	}
	// Refused once: not asked for, nor alerted, again.
	if v, f, err := fra.fed.CollectReceipts(ctx); err != nil || v != 0 || f != 0 {
		t.Errorf("CollectReceipts again = %d, %d, %v; want nothing left to do", v, f, err)
	}
	fra.verifyLedger()
}
