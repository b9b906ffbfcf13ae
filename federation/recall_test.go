package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

func recallStore(t *testing.T, n *testNode) mailbox.RecallStore {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	rs, ok := n.store.(mailbox.RecallStore)
	if !ok {
		t.Fatalf("%s's store keeps no recalls", n.code)
	}
	return rs
}

// version returns the node's stored version of id.
func (n *testNode) version(id string) *tearline.StoredObject {
	n.t.Helper()
	n.mu.Lock()
	s := n.store
	n.mu.Unlock()
	p, err := s.Objects(context.Background(), tearline.ObjectQuery{Collection: "default", IDs: []string{id}})
	if err != nil || len(p.Objects) != 1 {
		n.t.Fatalf("%s: version of %s: %d versions, %v", n.code, id, len(p.Objects), err)
	}
	return &p.Objects[0]
}

// recallSetup has GBR publish an object for the Five Eyes that USA and CAN
// receive, CAN from GBR and again from USA.
func recallSetup(t *testing.T, n int) (*testNet, string) {
	tn := newNet(t, "GBR", "USA", "CAN")
	id := matrixID(n)
	tn.nodes["GBR"].publish(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	tn.startAll()
	eventually(t, 30*time.Second, func() (bool, string) {
		return tn.nodes["USA"].held()[id] == 1 && tn.nodes["CAN"].held()[id] == 1, "USA and CAN do not both hold GBR's object"
	})
	tn.waitSettled(30 * time.Second)
	return tn, id
}

// acknowledged returns the partners that acknowledged the recall of id at
// its originator, and those it still waits for.
func acknowledged(t *testing.T, n *testNode, id string) (acked, waiting []string) {
	t.Helper()
	rs, err := recallStore(t, n).Recalls(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		for _, tg := range r.Targets {
			if tg.Acknowledged.IsZero() {
				waiting = append(waiting, tg.Partner)
			} else {
				acked = append(acked, tg.Partner)
			}
		}
	}
	return acked, waiting
}

func issue(t *testing.T, n *testNode, id, notice string) []string {
	t.Helper()
	_, targets, err := IssueRecall(context.Background(), recallStore(t, n), envelopeSigner(n.node), n.code+" test",
		n.version(id), "the source is compromised", notice, time.Now())
	if err != nil {
		t.Fatalf("IssueRecall: %v", err)
	}
	return targets
}

// TestRecallReachesEveryHolder: GBR recalls its object while it cannot
// reach CAN; USA purges it and passes the notice on to CAN, which had the
// object from USA too; CAN verifies it against GBR's pinned key, purges,
// and acknowledges to GBR directly. GBR sees both acknowledgements, each
// node keeps a tombstone, and every audit log records the recall and
// verifies.
func TestRecallReachesEveryHolder(t *testing.T) {
	tn, id := recallSetup(t, 41)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	// GBR now reaches CAN nowhere: only USA can pass the notice on.
	c, data, err := partner.NodeCard(can.node, []string{"https://127.0.0.1:1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := partner.NewStore(gbr.dir, "GBR").Add(data, partner.AddOptions{Fingerprint: fp.String(), Replace: true}); err != nil {
		t.Fatal(err)
	}
	gbr.stop()
	tn.start(gbr)

	hash := gbr.version(id).Hash
	targets := issue(t, gbr, id, "recall--41")
	if want := []string{"CAN", "USA"}; !slices.Equal(targets, want) {
		t.Errorf("IssueRecall targets = %v; want %v", targets, want)
	}
	if gbr.held()[id] != 0 {
		t.Errorf("GBR still holds its recalled object")
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"CAN", "USA"}), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	for _, n := range []*testNode{usa, can} {
		if n.held()[id] != 0 {
			t.Errorf("%s still holds the recalled object", n.code)
		}
		ts, err := recallStore(t, n).Tombstones(context.Background(), id)
		if err != nil || len(ts) != 1 || ts[0].Hash != hash || ts[0].RecalledBy != "GBR" || ts[0].Notice != "recall--41" ||
			ts[0].Reason != "the source is compromised" {
			t.Errorf("%s: Tombstones(%s) = %+v, %v; want GBR's recall--41", n.code, id, ts, err)
		}
		if !hasEvent(n.events(ledger.KindRecallAcknowledged), func(e ledger.Event) bool { return e.Details["acknowledgement"] == "sent" }) {
			t.Errorf("%s's audit log does not record its acknowledgement", n.code)
		}
		n.verifyLedger()
	}
	// CAN had the notice from USA only.
	if !hasEvent(can.events(ledger.KindRecallIssued), func(e ledger.Event) bool {
		return e.Details["from"] == "USA" && e.Details["originator"] == "GBR"
	}) {
		t.Errorf("CAN's audit log does not record the notice USA passed on: %+v", can.events(ledger.KindRecallIssued))
	}
	if n := len(gbr.events(ledger.KindRecallAcknowledged)); n != 2 {
		t.Errorf("GBR's audit log has %d acknowledgements; want 2", n)
	}
	if !hasEvent(gbr.events(ledger.KindRecallIssued), func(e ledger.Event) bool { return e.Details["recall"] == "issued" }) {
		t.Errorf("GBR's audit log does not record the recall")
	}
	gbr.verifyLedger()
	// A copy still on its way is not stored again, and is reported so.
	var rejected []ingest.Rejection
	gbr.mu.Lock()
	gs := gbr.store
	gbr.mu.Unlock()
	sum, err := ingest.Stream(context.Background(), gs, strings.NewReader(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism")),
		ingest.Options{Collection: "default", Reject: func(r ingest.Rejection) { rejected = append(rejected, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 0 || len(rejected) != 1 || rejected[0].ID != id || rejected[0].Rule != ingest.ErrRecalledRule {
		t.Errorf("publishing the recalled version again: %+v, rejections %+v; want it rejected as %s", sum, rejected, ingest.ErrRecalledRule)
	}
	if gbr.held()[id] != 0 {
		t.Errorf("a recalled version was stored again")
	}
}

// postRecall sends a notice to `to` over mutual TLS as from, and returns
// the answer's status and text.
func postRecall(t *testing.T, tn *testNet, from, to *testNode, body []byte) (int, string) {
	t.Helper()
	cfg, err := partner.ClientConfig(tn.tlsOptions(from), to.code)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	resp, err := c.Post("https://"+to.addr+PathRecall, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, answerText(resp.Body)
}

// TestRecallForgedRefused: a notice of GBR's object signed with USA's key
// in GBR's name, and one USA signs as if it were the originator, are both
// refused by CAN, and nothing is purged.
func TestRecallForgedRefused(t *testing.T) {
	tn, id := recallSetup(t, 42)
	usa, can := tn.nodes["USA"], tn.nodes["CAN"]
	v := can.version(id)
	forged := envelopeSigner(usa.node)
	forged.Code = "GBR"
	inGBRName, err := SignRecall(RecallNotice{Notice: "recall--forged", Originator: "GBR", Object: id, Hash: v.Hash,
		Reason: "forged", Issued: time.Now()}, forged)
	if err != nil {
		t.Fatal(err)
	}
	asOriginator, err := SignRecall(RecallNotice{Notice: "recall--usa", Originator: "USA", Object: id, Hash: v.Hash,
		Reason: "not USA's to recall", Issued: time.Now()}, envelopeSigner(usa.node))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"signed by another key", inGBRName, "has no signing key"},
		{"not the originator", asOriginator, "is not the originator"},
		{"tampered", bytes.Replace(asOriginator, []byte("not USA"), []byte("NOT USA"), 1), "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, text := postRecall(t, tn, usa, can, tc.body)
			if code != http.StatusForbidden || !strings.Contains(text, tc.want) {
				t.Errorf("POST %s = %d %q; want 403 saying %q", PathRecall, code, text, tc.want)
			}
		})
	}
	if can.held()[id] != 1 {
		t.Errorf("CAN purged its copy on a forged notice")
	}
	if ts, err := recallStore(t, can).Tombstones(context.Background(), id); err != nil || len(ts) != 0 {
		t.Errorf("CAN Tombstones = %+v, %v; want none", ts, err)
	}
	if evs := can.events(ledger.KindRecallIssued); len(evs) != 0 {
		t.Errorf("CAN's audit log records a recall: %+v", evs)
	}
	// Only the originator's node may issue one, too.
	_, _, err = IssueRecall(context.Background(), recallStore(t, can), envelopeSigner(can.node), "CAN test", v, "", "recall--can", time.Now())
	if !errors.Is(err, ErrNotOriginator) {
		t.Errorf("IssueRecall by a holder = %v; want ErrNotOriginator", err)
	}
	if can.held()[id] != 1 {
		t.Errorf("CAN purged its copy on its own refused recall")
	}
}

// TestRecallHolderDown: USA's node is down when GBR recalls; the notice
// waits at GBR, and once USA is back it purges and acknowledges.
func TestRecallHolderDown(t *testing.T) {
	tn, id := recallSetup(t, 43)
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	usa.stop()
	issue(t, gbr, id, "recall--43")
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"CAN"}) && slices.Equal(waiting, []string{"USA"}),
			fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	time.Sleep(300 * time.Millisecond) // retries while USA is down
	if usa.held()[id] != 1 {
		t.Fatalf("USA changed while it was down")
	}
	tn.start(usa)
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"CAN", "USA"}), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	if usa.held()[id] != 0 {
		t.Errorf("USA still holds the recalled object after its restart")
	}
	usa.verifyLedger()
	gbr.verifyLedger()
}
