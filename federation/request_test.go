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
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

// workflow is n's consent workflow, reaching partners at their listen
// addresses over mutual TLS.
func (tn *testNet) workflow(n *testNode) *Workflow {
	n.mu.Lock()
	st, ok := n.store.(RequestRecords)
	n.mu.Unlock()
	if !ok {
		tn.t.Fatalf("%s's store keeps no consent requests", n.code)
	}
	return &Workflow{Signer: envelopeSigner(n.node), Store: st, Cards: partner.NewStore(n.dir, n.code), Releaser: n.rel,
		Collection: "default", Dial: tn.dialer(n)}
}

func (tn *testNet) dialer(n *testNode) Dialer {
	opts := tn.tlsOptions(n)
	return func(code string) (*http.Client, string, error) {
		cfg, err := partner.ClientConfig(opts, code)
		if err != nil {
			return nil, "", err
		}
		other, ok := tn.nodes[code]
		if !ok {
			return nil, "", fmt.Errorf("no node %s", code)
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}, "https://" + other.addr, nil
	}
}

// postAs sends body to path on partner to, as node from, and returns the
// status.
func (tn *testNet) postAs(from *testNode, to, path string, body []byte) (int, string) {
	tn.t.Helper()
	client, endpoint, err := tn.dialer(from)(to)
	if err != nil {
		tn.t.Fatal(err)
	}
	resp, err := client.Post(endpoint+path, "application/json", bytes.NewReader(body))
	if err != nil {
		tn.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func requestEvent(n *testNode, kind ledger.Kind, key, what, request string) func() (bool, string) {
	return func() (bool, string) {
		return hasEvent(n.events(kind), func(e ledger.Event) bool {
			return e.Details[key] == what && e.Details["request"] == request
		}), fmt.Sprintf("%s's audit log has no %s entry %s=%s for %s", n.code, kind, key, what, request)
	}
}

// TestConsentRequestApproved: USA holds GBR's ORCON object and asks GBR to
// let it pass the object to CAN; the request is in GBR's inbox and USA's
// outbox; GBR's releaser approves; USA's node verifies and keeps the
// signed consent, its outbox carries the object to CAN, and CAN accepts
// it. Both audit logs record the request and the approval.
func TestConsentRequestApproved(t *testing.T) {
	tn, id := onwardSetup(t, 41)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	ctx := context.Background()
	q, err := tn.workflow(usa).Request(ctx, id, "CAN", "for the joint assessment")
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if q.Originator != "GBR" || q.Delivered.IsZero() {
		t.Fatalf("Request = %+v; want sent to GBR and acknowledged", q)
	}
	in, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID)
	if err != nil || in.State != mailbox.RequestPending || in.Requester != "USA" || in.Recipient != "CAN" || in.Note != "for the joint assessment" {
		t.Fatalf("GBR's inbox: %+v, %v; want USA's request, pending", in, err)
	}
	if got := can.held()[id]; got != 0 {
		t.Fatalf("CAN holds %s before GBR decided", id)
	}
	a, err := tn.workflow(gbr).Approve(ctx, q.ID, time.Hour)
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if a.State != mailbox.RequestApproved || a.Delivered.IsZero() {
		t.Fatalf("Approve = %+v; want approved and delivered", a)
	}
	out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID)
	if err != nil || out.State != mailbox.RequestApproved || !bytes.Equal(out.Record, a.Record) {
		t.Fatalf("USA's outbox: %+v, %v; want approved with GBR's record", out, err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		return can.held()[id] == 1, "CAN does not hold the object USA may pass on with GBR's consent"
	})
	eventually(t, 5*time.Second, requestEvent(usa, ledger.KindReleaseDecided, "consent-request", "sent", q.ID))
	eventually(t, 5*time.Second, requestEvent(gbr, ledger.KindReleaseDecided, "consent-request", "received", q.ID))
	eventually(t, 5*time.Second, requestEvent(gbr, ledger.KindConsentGiven, "consent", "given", q.ID))
	eventually(t, 5*time.Second, requestEvent(usa, ledger.KindConsentGiven, "consent", "received", q.ID))
	eventually(t, 5*time.Second, requestEvent(can, ledger.KindConsentGiven, "consent", "used", q.ID))

	// The answer delivered again changes nothing; a denial after it is refused.
	if _, err := tn.workflow(gbr).Approve(ctx, q.ID, time.Hour); err != nil {
		t.Errorf("Approve again (delivers again): %v", err)
	}
	if _, err := tn.workflow(gbr).Deny(ctx, q.ID, "changed my mind"); !errors.Is(err, mailbox.ErrRequestDecided) {
		t.Errorf("Deny(approved) = %v; want ErrRequestDecided", err)
	}
	tn.waitSettled(30 * time.Second)
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}

// TestConsentRequestDenied: GBR denies; USA's node verifies the signed
// denial, and CAN never receives the object.
func TestConsentRequestDenied(t *testing.T) {
	tn, id := onwardSetup(t, 42)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	ctx := context.Background()
	q, err := tn.workflow(usa).Request(ctx, id, "CAN", "")
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	d, err := tn.workflow(gbr).Deny(ctx, q.ID, "the source would be exposed")
	if err != nil {
		t.Fatalf("Deny: %v", err)
	}
	if d.State != mailbox.RequestDenied || d.Delivered.IsZero() {
		t.Fatalf("Deny = %+v; want denied and delivered", d)
	}
	out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID)
	if err != nil || out.State != mailbox.RequestDenied || out.Reason != "the source would be exposed" {
		t.Fatalf("USA's outbox: %+v, %v; want denied with GBR's reason", out, err)
	}
	if _, err := tn.workflow(gbr).Approve(ctx, q.ID, 0); !errors.Is(err, mailbox.ErrRequestDecided) {
		t.Errorf("Approve(denied) = %v; want ErrRequestDecided", err)
	}
	eventually(t, 5*time.Second, requestEvent(gbr, ledger.KindReleaseDecided, "consent-request", "denied", q.ID))
	eventually(t, 5*time.Second, requestEvent(usa, ledger.KindReleaseDecided, "consent-request", "denial-received", q.ID))
	tn.waitSettled(30 * time.Second)
	_, releases, err := usa.store.ReleaseOf(ctx, "default", id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(releases, func(r tearline.ClassRelease) bool { return r.Partner == "CAN" && r.Outcome == tearline.Allow }) {
		t.Errorf("USA's release set allows %s to CAN after GBR denied", id)
	}
	if got := can.held()[id]; got != 0 {
		t.Errorf("CAN holds %d copies of an object whose originator denied its passing on", got)
	}
	if hasEvent(usa.events(ledger.KindConsentGiven), func(e ledger.Event) bool { return e.Details["request"] == q.ID }) {
		t.Errorf("USA's audit log records a consent for the denied request %s", q.ID)
	}
}

// TestConsentRequestNotHeldRefused: a request for an object the requester
// does not hold is refused by the requester's own node, and, sent anyway,
// by the originator's; a request to a node that is not the object's
// originator is refused too. Nothing enters an inbox.
func TestConsentRequestNotHeldRefused(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	ctx := context.Background()
	kept, orcon := matrixID(43), matrixID(44)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	gbr.publish(labelled(t, kept, "GBR SECRET//ORCON//REL TO GBR//ORIGINATOR GBR", "counter-terrorism"))
	gbr.publish(labelled(t, orcon, "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	tn.startAll()
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[orcon] == 1 && can.held()[orcon] == 1, "USA and CAN do not hold GBR's ORCON object"
	})
	if _, err := tn.workflow(usa).Request(ctx, kept, "CAN", ""); !errors.Is(err, ErrRequestRefused) {
		t.Errorf("Request(an object USA does not hold) = %v; want ErrRequestRefused", err)
	}
	for _, tc := range []struct {
		name, to string
		q        ConsentRequest
	}{
		{"not held", "GBR", ConsentRequest{ID: "r-not-held", Requester: "USA", Originator: "GBR", Recipient: "CAN", Object: kept}},
		{"not the originator", "CAN", ConsentRequest{ID: "r-not-originator", Requester: "USA", Originator: "CAN", Recipient: "AUS", Object: orcon}},
		{"in another's name", "GBR", ConsentRequest{ID: "r-other-name", Requester: "CAN", Originator: "GBR", Recipient: "AUS", Object: orcon}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := tc.q.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if status, msg := tn.postAs(usa, tc.to, PathConsentRequest, body); status != http.StatusForbidden {
				t.Errorf("POST %s to %s = %d %s; want 403", tc.name, tc.to, status, msg)
			}
			if _, err := tn.workflow(tn.nodes[tc.to]).Store.GetRequest(ctx, mailbox.RequestInbox, tc.q.ID); !errors.Is(err, tearline.ErrNotFound) {
				t.Errorf("%s's inbox has the refused request %s (%v)", tc.to, tc.q.ID, err)
			}
		})
	}
}

// TestConsentApprovalByNonOriginatorRefused: USA asks GBR; CAN, which is
// not the originator, sends USA an approval, signed with its own key in
// its own name, and one in GBR's name; USA's node refuses both, keeps no
// consent, and its request stays pending.
func TestConsentApprovalByNonOriginatorRefused(t *testing.T) {
	tn, id := onwardSetup(t, 45)
	usa, can := tn.nodes["USA"], tn.nodes["CAN"]
	ctx := context.Background()
	q, err := tn.workflow(usa).Request(ctx, id, "CAN", "")
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	now := time.Now().UTC()
	own, err := SignConsent(Consent{Request: q.ID, Originator: "CAN", Holder: "USA", Recipient: "AUS", Object: id, Issued: now}, envelopeSigner(can.node))
	if err != nil {
		t.Fatal(err)
	}
	forger := envelopeSigner(can.node)
	forger.Code = "GBR"
	forged, err := SignConsent(Consent{Request: q.ID, Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: id, Version: q.Version, Issued: now}, forger)
	if err != nil {
		t.Fatal(err)
	}
	denial, err := SignDenial(Denial{Request: q.ID, Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: id, Issued: now}, forger)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		body       []byte
	}{
		{"in its own name", PathConsentApproval, own},
		{"in the originator's name", PathConsentApproval, forged},
		{"a denial in the originator's name", PathConsentDenial, denial},
	} {
		if status, msg := tn.postAs(can, "USA", tc.path, tc.body); status != http.StatusForbidden {
			t.Errorf("CAN's answer %s = %d %s; want 403", tc.name, status, msg)
		}
	}
	out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID)
	if err != nil || out.State != mailbox.RequestPending {
		t.Fatalf("USA's outbox: %+v, %v; want the request still pending", out, err)
	}
	if kept, err := consentStore(t, usa).ConsentsFor(ctx, "", []string{id}); err != nil || len(kept) != 0 {
		t.Errorf("USA keeps consents %+v, %v; want none", kept, err)
	}
	// A node that is not the originator cannot approve from its inbox
	// either: the request never reached it, and its key cannot sign in
	// another's name.
	if _, err := tn.workflow(can).Approve(ctx, q.ID, 0); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("CAN's Approve(%s) = %v; want ErrNotFound", q.ID, err)
	}
	tn.waitSettled(30 * time.Second)
	if got := can.held()[id]; got != 0 {
		t.Errorf("CAN holds %d copies after refused approvals; want none", got)
	}
}

// TestConsentRequestApprovedWithTearline: USA asks GBR to pass GBR's ORCON
// object to CAN; GBR's releaser publishes a sanitised tearline of it as an
// object of GBR's own, and approves the request with
// a consent for the tearline. USA's node accepts the record once it holds
// the tearline (an approval that arrives before it is refused, to be
// delivered again), passes the tearline to CAN with the consent, and the
// original never reaches CAN. A tearline GBR does not release to USA, or
// the original itself, is refused before anything is signed.
func TestConsentRequestApprovedWithTearline(t *testing.T) {
	tn, id := onwardSetup(t, 46)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	ctx := context.Background()
	q, err := tn.workflow(usa).Request(ctx, id, "CAN", "for the joint assessment")
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	variant, kept := matrixID(47), matrixID(48)
	gbr.publish(labelled(t, kept, "GBR OFFICIAL//REL TO GBR", "counter-terrorism"))
	for _, tc := range []struct{ name, variant string }{{"the original itself", id}, {"not released to USA", kept}, {"not held", matrixID(49)}} {
		if _, err := tn.workflow(gbr).ApproveTearline(ctx, q.ID, tc.variant, time.Time{}, time.Hour); !errors.Is(err, ErrRequestRefused) {
			t.Errorf("ApproveTearline(%s) = %v; want ErrRequestRefused", tc.name, err)
		}
	}
	if in, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID); err != nil || in.State != mailbox.RequestPending {
		t.Fatalf("GBR's inbox after refused tearlines: %+v, %v; want pending", in, err)
	}

	// A consent for a tearline USA does not hold yet is refused with 409.
	early, err := SignConsent(Consent{Request: q.ID, Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: matrixID(49),
		Original: id, Issued: time.Now().UTC()}, envelopeSigner(gbr.node))
	if err != nil {
		t.Fatal(err)
	}
	if status, msg := tn.postAs(gbr, "USA", PathConsentApproval, early); status != http.StatusConflict {
		t.Errorf("approval for a tearline USA does not hold = %d %s; want 409", status, msg)
	}

	// GBR releases the tearline to USA and CAN itself; as in onwardSetup,
	// CAN's copy is removed, so that CAN holds it again only if USA passes
	// it on with the consent.
	gbr.publish(labelled(t, variant, "GBR OFFICIAL//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[variant] == 1 && can.held()[variant] == 1, "USA and CAN do not both hold GBR's tearline"
	})
	tn.waitSettled(30 * time.Second)
	if _, err := can.store.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "default", IDs: []string{variant}}); err != nil {
		t.Fatal(err)
	}
	a, err := tn.workflow(gbr).ApproveTearline(ctx, q.ID, variant, time.Time{}, time.Hour)
	if err != nil {
		t.Fatalf("ApproveTearline: %v", err)
	}
	if a.State != mailbox.RequestApproved || a.Delivered.IsZero() {
		t.Fatalf("ApproveTearline = %+v; want approved and delivered", a)
	}
	p, err := ParseConsent(a.Record)
	if err != nil || p.Object != variant || p.Original != id || p.Holder != "USA" || p.Recipient != "CAN" {
		t.Fatalf("the record = %+v, %v; want a consent for %s standing for %s", p, err, variant, id)
	}
	out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID)
	if err != nil || out.State != mailbox.RequestApproved || !bytes.Equal(out.Record, a.Record) {
		t.Fatalf("USA's outbox: %+v, %v; want approved with GBR's record", out, err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		return can.held()[variant] == 1, "CAN does not hold the tearline USA may pass on with GBR's consent"
	})
	eventually(t, 5*time.Second, requestEvent(gbr, ledger.KindConsentGiven, "consent", "given", q.ID))
	eventually(t, 5*time.Second, requestEvent(usa, ledger.KindConsentGiven, "consent", "received", q.ID))
	eventually(t, 5*time.Second, requestEvent(can, ledger.KindConsentGiven, "consent", "used", q.ID))
	if !hasEvent(gbr.events(ledger.KindConsentGiven), func(e ledger.Event) bool {
		return e.Details["request"] == q.ID && e.Details["tearline-of"] == id
	}) {
		t.Errorf("GBR's audit log does not say the consent for %s is a tearline of %s", variant, id)
	}

	// Delivered again, it changes nothing; a tearline of another object,
	// or a plain denial, is refused as decided.
	if _, err := tn.workflow(gbr).ApproveTearline(ctx, q.ID, variant, time.Time{}, time.Hour); err != nil {
		t.Errorf("ApproveTearline again (delivers again): %v", err)
	}
	if _, err := tn.workflow(gbr).ApproveTearline(ctx, q.ID, kept, time.Time{}, time.Hour); !errors.Is(err, mailbox.ErrRequestDecided) {
		t.Errorf("ApproveTearline(another variant) after approval = %v; want ErrRequestDecided", err)
	}
	tn.waitSettled(30 * time.Second)
	if got := can.held()[id]; got != 0 {
		t.Errorf("CAN holds %d copies of the original; only its tearline was consented to", got)
	}
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}

// TestDeliverPending: what did not reach its partner is delivered again
// by DeliverPending. USA's request, made while GBR could not be reached,
// reaches GBR's inbox; GBR's approval with a tearline, made while GBR's
// node was stopped so that the tearline could not reach USA, is refused
// by USA (409) until the tearline arrives, and is accepted then. Nothing
// delivered is delivered twice.
func TestDeliverPending(t *testing.T) {
	tn, id := onwardSetup(t, 51)
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	ctx := context.Background()

	down := tn.workflow(usa)
	down.Dial = func(string) (*http.Client, string, error) { return nil, "", errors.New("the link to GBR is down") }
	q, err := down.Request(ctx, id, "CAN", "for the joint assessment")
	if err == nil || q.ID == "" {
		t.Fatalf("Request with GBR unreachable = %+v, %v; want the request kept and an error", q, err)
	}
	if out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID); err != nil || !out.Delivered.IsZero() || out.DeliveryError == "" {
		t.Fatalf("USA's outbox: %+v, %v; want the request undelivered, with its error", out, err)
	}
	if _, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID); !errors.Is(err, tearline.ErrNotFound) {
		t.Fatalf("GBR's inbox holds the request before it was delivered: %v", err)
	}
	if n, err := tn.workflow(usa).DeliverPending(ctx); n != 1 || err != nil {
		t.Fatalf("USA's DeliverPending = %d, %v; want the request delivered", n, err)
	}
	if in, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID); err != nil || in.State != mailbox.RequestPending {
		t.Fatalf("GBR's inbox: %+v, %v; want the request pending", in, err)
	}
	if out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID); err != nil || out.Delivered.IsZero() || out.DeliveryError != "" {
		t.Fatalf("USA's outbox: %+v, %v; want the request delivered", out, err)
	}
	if n, err := tn.workflow(usa).DeliverPending(ctx); n != 0 || err != nil {
		t.Fatalf("USA's DeliverPending again = %d, %v; want nothing to deliver", n, err)
	}

	// GBR's node is stopped: the tearline it publishes stays at GBR.
	gbr.stop()
	variant := matrixID(52)
	gbr.publish(labelled(t, variant, "GBR OFFICIAL//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	a, err := tn.workflow(gbr).ApproveTearline(ctx, q.ID, variant, time.Time{}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "409") || a.State != mailbox.RequestApproved || !a.Delivered.IsZero() {
		t.Fatalf("ApproveTearline before USA holds the tearline = %+v, %v; want approved, refused by USA with 409", a, err)
	}
	if n, err := tn.workflow(gbr).DeliverPending(ctx); n != 0 || err == nil {
		t.Fatalf("GBR's DeliverPending while USA lacks the tearline = %d, %v; want it refused again", n, err)
	}
	tn.start(gbr)
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[variant] == 1, "USA does not hold GBR's tearline"
	})
	if n, err := tn.workflow(gbr).DeliverPending(ctx); n != 1 || err != nil {
		t.Fatalf("GBR's DeliverPending once USA holds the tearline = %d, %v; want the approval delivered", n, err)
	}
	out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q.ID)
	if err != nil || out.State != mailbox.RequestApproved || !bytes.Equal(out.Record, a.Record) {
		t.Fatalf("USA's outbox: %+v, %v; want approved with GBR's record", out, err)
	}
	if in, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID); err != nil || in.Delivered.IsZero() || in.DeliveryError != "" {
		t.Fatalf("GBR's inbox: %+v, %v; want the approval delivered", in, err)
	}
	if n, err := tn.workflow(gbr).DeliverPending(ctx); n != 0 || err != nil {
		t.Fatalf("GBR's DeliverPending again = %d, %v; want nothing to deliver", n, err)
	}
	eventually(t, 5*time.Second, requestEvent(usa, ledger.KindConsentGiven, "consent", "received", q.ID))

	// A consent that lapses before it could be delivered is not delivered
	// any more, and the inbox says why.
	q2, err := tn.workflow(usa).Request(ctx, id, "CAN", "again, for a week")
	if err != nil {
		t.Fatal(err)
	}
	downGBR := tn.workflow(gbr)
	downGBR.Dial = func(string) (*http.Client, string, error) { return nil, "", errors.New("the link to USA is down") }
	if _, err := downGBR.Approve(ctx, q2.ID, time.Hour); err == nil {
		t.Fatal("Approve over a cut link succeeded")
	}
	later := tn.workflow(gbr)
	later.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := later.DeliverPending(ctx); n != 0 || err != nil {
		t.Fatalf("DeliverPending after the consent lapsed = %d, %v; want nothing delivered, no error", n, err)
	}
	if in, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q2.ID); err != nil || !in.Delivered.IsZero() || !strings.Contains(in.DeliveryError, "lapsed") {
		t.Fatalf("GBR's inbox: %+v, %v; want the approval undelivered, its consent lapsed", in, err)
	}
	if out, err := tn.workflow(usa).Store.GetRequest(ctx, mailbox.RequestOutbox, q2.ID); err != nil || out.State != mailbox.RequestPending {
		t.Fatalf("USA's outbox: %+v, %v; want the request still pending", out, err)
	}
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}
