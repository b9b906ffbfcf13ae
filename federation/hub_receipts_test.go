package federation

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// checkReceipt checks again, with other's key, what holder's receipt r of
// a batch with other holds: other's checkpoint, the inclusion of other's
// entry in it, and that the entry is other's record of that very batch.
func checkReceipt(t *testing.T, holder, other *testNode, r mailbox.BatchReceipt) {
	t.Helper()
	if r.Pending() || r.Failure != "" {
		t.Errorf("%s's receipt of batch %d (%s) with %s: %+v; want verified", holder.code, r.Through, r.Role, other.code, r)
		return
	}
	cp, _, err := ledger.OpenCheckpoint(r.Checkpoint, ledger.NewVerifier("tearline/"+other.code, other.node.SigningPublicKey))
	if err != nil {
		t.Errorf("%s's receipt of batch %d: checkpoint: %v", holder.code, r.Through, err)
		return
	}
	if err := ledger.VerifyInclusion(r.PartnerEntry, r.PartnerIndex, cp.Size, cp.Root, r.Proof); err != nil {
		t.Errorf("%s's receipt of batch %d: %v", holder.code, r.Through, err)
	}
	ev, err := ledger.DecodeEvent(r.PartnerEntry)
	if err != nil {
		t.Errorf("%s's receipt of batch %d: %v", holder.code, r.Through, err)
		return
	}
	if err := batchEventMatches(ev, r.Role.Other(), other.code, holder.code, r.Through); err != nil {
		t.Errorf("%s's receipt of batch %d: %v", holder.code, r.Through, err)
	}
}

// with returns the receipts, in role, of batches with partner.
func with(rs []mailbox.BatchReceipt, partner string) []mailbox.BatchReceipt {
	var out []mailbox.BatchReceipt
	for _, r := range rs {
		if r.Partner == partner {
			out = append(out, r)
		}
	}
	return out
}

// TestReceiptsThroughHub: GBR, USA and CAN reach each other only through
// HUB, and exchange objects in several batches each way. Before any
// checkpoint nothing can be proved and every receipt is pending. While the
// hub alters the members' answers, each member refuses them as altered and
// accepts nothing. Relaying faithfully again, every member ends with, for
// every batch it sent through the hub, the recipient's verified entry of
// receiving it and, for every batch it received, the sender's verified
// entry of sending it. Finally GBR answers USA, through the hub, with its
// entry of another batch: USA refuses that receipt, with the alert a
// direct link raises, and keeps the failure.
func TestReceiptsThroughHub(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	hub := newTestHub(t, "HUB")
	hubEP := "https://" + hub.addr
	members := []string{"GBR", "USA", "CAN"}
	for _, m := range members {
		pinCard(t, hub.node, hubEP, tn.nodes[m].dir, m)
		pinCard(t, tn.nodes[m].node, "https://"+tn.nodes[m].addr, hub.dir, hub.code)
		for _, o := range members {
			if o != m {
				pinCard(t, tn.nodes[o].node, hubEP, tn.nodes[m].dir, m)
			}
		}
	}
	tn.tune = func(c *Config) {
		c.Hubs = []string{hub.code}
		c.PollInterval = 100 * time.Millisecond
		c.ReceiptInterval = 100 * time.Millisecond
		c.MaxBatch = 3
	}
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		logMu.Lock()
		defer logMu.Unlock()
		for _, n := range []*testNode{gbr, usa} {
			for _, line := range strings.Split(n.logs.String(), "\n") {
				if strings.Contains(line, "receipt") || strings.Contains(line, "hub message") {
					t.Log(n.code, line)
				}
			}
		}
	})
	for i := 1; i <= 7; i++ {
		gbr.publish(labelled(t, matrixID(400+i), "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
		if i <= 4 {
			usa.publish(labelled(t, matrixID(500+i), "SECRET//REL TO USA, GBR, FVEY", "cyber"))
		}
	}
	hub.start(t)
	for _, n := range tn.nodes {
		tn.start(n)
	}
	tn.waitSettled(60 * time.Second)
	ctx := context.Background()
	for _, c := range []string{"USA", "CAN"} {
		if got := len(tn.nodes[c].held()); got != 11 {
			t.Fatalf("%s holds %d objects; want the 11 published", c, got)
		}
	}

	// Before any checkpoint: nothing to prove, every receipt pending.
	total := 0
	for _, n := range tn.nodes {
		for _, role := range []mailbox.Role{mailbox.RoleSender, mailbox.RoleRecipient} {
			for _, r := range n.receipts(role) {
				total++
				if !r.Pending() {
					t.Errorf("%s's receipt of batch %d with %s before any checkpoint: %+v; want pending", n.code, r.Through, r.Partner, r)
				}
			}
		}
	}
	if len(with(gbr.receipts(mailbox.RoleSender), "USA")) < 3 || len(with(usa.receipts(mailbox.RoleRecipient), "GBR")) < 3 {
		t.Fatalf("GBR sent %d batches to USA, USA received %d; want several (batches of 3)",
			len(with(gbr.receipts(mailbox.RoleSender), "USA")), len(with(usa.receipts(mailbox.RoleRecipient), "GBR")))
	}

	// The hub alters every answer: each asking member refuses them, and
	// nothing is accepted.
	hub.mode.Store(4)
	for _, n := range tn.nodes {
		n.signCheckpoint()
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, c := range members {
			if !logged(tn.nodes[c], `msg="hub message refused"`, "kind=answer", "relayed message altered") {
				return false, c + " has refused no altered answer"
			}
		}
		return true, ""
	})
	for _, n := range tn.nodes {
		for _, role := range []mailbox.Role{mailbox.RoleSender, mailbox.RoleRecipient} {
			for _, r := range n.receipts(role) {
				if !r.Pending() {
					t.Errorf("%s accepted the receipt of batch %d with %s from an answer the hub altered: %+v", n.code, r.Through, r.Partner, r)
				}
			}
		}
		if alerts := n.events(ledger.KindAlertRaised); len(alerts) != 0 {
			t.Errorf("%s raised %+v over answers the hub altered; want them refused as altered, not as the partner's", n.code, alerts)
		}
	}

	// Relaying faithfully again: every receipt is verified, on both sides
	// of every batch relayed.
	hub.mode.Store(0)
	eventually(t, 60*time.Second, func() (bool, string) {
		for _, n := range tn.nodes {
			rs, err := n.store.Receipts(ctx, mailbox.ReceiptQuery{Pending: true})
			if err != nil {
				return false, err.Error()
			}
			if len(rs) > 0 {
				return false, fmt.Sprintf("%s has %d receipts pending, the first of batch %d with %s", n.code, len(rs), rs[0].Through, rs[0].Partner)
			}
		}
		return true, ""
	})
	checked := 0
	for _, s := range members {
		for _, r := range members {
			if s == r {
				continue
			}
			sender, recipient := tn.nodes[s], tn.nodes[r]
			sent := with(sender.receipts(mailbox.RoleSender), r)
			received := with(recipient.receipts(mailbox.RoleRecipient), s)
			// What GBR and USA published went through the hub to the
			// others; CAN published nothing, and what it may pass on it
			// withholds from those that had it first (no envelope, so
			// nothing to prove).
			if (s == "GBR" || s == "USA") && len(received) == 0 {
				t.Errorf("%s holds no receipt of a batch from %s through the hub", r, s)
			}
			for _, th := range throughs(received) {
				if !slices.Contains(throughs(sent), th) {
					t.Errorf("%s received batch %d from %s, which holds no receipt of sending it (%v)", r, th, s, throughs(sent))
				}
			}
			for _, rc := range sent {
				checkReceipt(t, sender, recipient, rc)
				checked++
			}
			for _, rc := range received {
				checkReceipt(t, recipient, sender, rc)
				checked++
			}
		}
	}
	if checked != total {
		t.Errorf("%d receipts checked of %d", checked, total)
	}

	// GBR's store points USA's question about a new batch at its entry of
	// the next: USA refuses the answer, as from a direct link.
	for i := 1; i <= 6; i++ {
		gbr.publish(labelled(t, matrixID(600+i), "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
	}
	tn.waitSettled(60 * time.Second)
	var fresh []mailbox.BatchReceipt
	for _, r := range with(usa.receipts(mailbox.RoleRecipient), "GBR") {
		if r.Pending() {
			fresh = append(fresh, r)
		}
	}
	if len(fresh) < 2 {
		t.Fatalf("USA has %d new batches from GBR to collect receipts of; want 2 or more", len(fresh))
	}
	first, second := fresh[0], fresh[1]
	db, err := sql.Open("tearline-sqlite3", "file:"+filepath.Join(gbr.dir, "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var secondIndex int64
	if err := db.QueryRow(`SELECT own_index FROM receipts WHERE partner = 'USA' AND role = 'sender' AND through = ?`, int64(second.Through)).Scan(&secondIndex); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE receipts SET own_index = ? WHERE partner = 'USA' AND role = 'sender' AND through = ?`, secondIndex, int64(first.Through)); err != nil {
		t.Fatal(err)
	}
	gbr.signCheckpoint()
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, r := range with(usa.receipts(mailbox.RoleRecipient), "GBR") {
			if r.Pending() {
				return false, fmt.Sprintf("USA's receipt of batch %d from GBR is pending", r.Through)
			}
		}
		return true, ""
	})
	for _, r := range with(usa.receipts(mailbox.RoleRecipient), "GBR") {
		switch r.Through {
		case first.Through:
			if r.Failure == "" || !r.Verified.IsZero() {
				t.Errorf("USA's receipt of batch %d = %+v; want refused", r.Through, r)
			}
		default:
			checkReceipt(t, usa, gbr, r)
		}
	}
	alerts := usa.events(ledger.KindAlertRaised)
	if len(alerts) != 1 || !hasEvent(alerts, func(e ledger.Event) bool {
		return e.Details["alert"] == "receipt-refused" && e.Details["through"] == strconv.FormatUint(first.Through, 10) && slices.Equal(e.Subjects, []string{"GBR"})
	}) {
		t.Errorf("USA's audit log has alerts %+v; want one for the refused receipt of batch %d", alerts, first.Through)
	}
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}
