package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/exercise"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
)

// TestExerciseConsent plays testdata/consent.yaml: Canada asks the US for
// consent to pass two US ORCON reports to the UK, the US approves one and
// denies the other; the UK receives the first and never the second, and
// every inject is played and every expectation met with no violation.
func TestExerciseConsent(t *testing.T) {
	sc := consentScenario(t)
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	card, err := e.runExercise(context.Background(), sc, "", 5, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range card.Events {
		if ev.Error != "" {
			t.Errorf("inject %d (%s %s): %s", ev.Index, ev.Kind, ev.Detail, ev.Error)
		}
	}
	for _, r := range card.Results {
		if !r.Met {
			t.Errorf("expectation %s %s %s missed: %s", r.Kind, r.Nation, r.Object, r.Why)
		}
	}
	if len(card.Violations) != 0 {
		t.Errorf("violations: %v", card.Violations)
	}
	if !card.Passed() || card.Met != len(sc.Expect) {
		t.Fatalf("consent exercise: %d met, %d missed; want all %d met\n%s", card.Met, card.Missed, len(sc.Expect), out.String())
	}
}

// TestReleaseConsentCommands drives the commands against running nodes:
// Canada requests, the US lists its inbox, approves one request (the UK
// then receives the report) and denies the other (Canada's node still
// needs the US's consent); a node that is not the originator cannot
// approve, and an object a node does not hold cannot be asked for.
func TestReleaseConsentCommands(t *testing.T) {
	sc, f := consentFed(t)
	ctx := context.Background()
	dir := func(code string) string { return filepath.Join(f.dir, strings.ToLower(code)) }
	approved := exercise.ObjectID(sc.ID, "report", "cli-approved")
	denied := exercise.ObjectID(sc.ID, "report", "cli-denied")
	for _, id := range []string{approved, denied} {
		if err := f.Publish(ctx, "USA", exercise.Object{ID: id, Type: "report", Name: "Source reporting",
			Banner: "SECRET//ORCON//REL TO USA, CAN, GBR//ORIGINATOR USA"}); err != nil {
			t.Fatal(err)
		}
	}
	waitHolds(t, f, "CAN", approved, denied)

	idRE := regexp.MustCompile(`request (consent-request--[0-9a-f-]+) sent to USA`)
	request := func(id, note string) string {
		t.Helper()
		out, errs, code := run(t, "", "release", "request", id, "--to", "gbr", "--note", note, "--dir", dir("CAN"))
		m := idRE.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("release request %s: exit %d\n%s%s", id, code, out, errs)
		}
		return m[1]
	}
	yes, no := request(approved, "for the joint brief"), request(denied, "for the joint brief")

	out, errs, code := run(t, "", "release", "requests", "--dir", dir("USA"))
	if code != 0 || !strings.Contains(out, "INBOX (requests to this node, as originator): 2") || strings.Count(out, "pending") != 2 ||
		!strings.Contains(out, yes) || !strings.Contains(out, "for the joint brief") {
		t.Fatalf("release requests (USA): exit %d; want both requests pending in the inbox\n%s%s", code, out, errs)
	}
	if out, errs, code := run(t, "", "release", "approve", yes, "--dir", dir("CAN")); code == 0 || !strings.Contains(out+errs, "not found") {
		t.Errorf("release approve on CAN, not the originator: exit %d; want it refused, not found\n%s%s", code, out, errs)
	}
	if out, errs, code := run(t, "", "release", "approve", yes, "--expires", "24h", "--dir", dir("USA")); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("release approve: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := run(t, "", "release", "deny", no, "--reason", "the source would be exposed", "--dir", dir("USA")); code != 0 || !strings.Contains(out, "denied") {
		t.Fatalf("release deny: exit %d\n%s%s", code, out, errs)
	}
	waitHolds(t, f, "GBR", approved)

	out, errs, code = run(t, "", "release", "requests", "--dir", dir("CAN"))
	if code != 0 || !strings.Contains(out, "OUTBOX (requests of this node, as holder): 2") || !strings.Contains(out, "approved") ||
		!strings.Contains(out, "denied") || !strings.Contains(out, "the source would be exposed") {
		t.Fatalf("release requests (CAN): exit %d; want one approved, one denied with the reason\n%s%s", code, out, errs)
	}
	d, err := f.Decide(ctx, "CAN", denied, "GBR")
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != tearline.NeedsConsent {
		t.Errorf("CAN's decision for the denied report to GBR = %s; want needs consent", d.Outcome)
	}
	if held, err := f.Holds(ctx, "GBR", denied); err != nil || held {
		t.Errorf("GBR holds the report whose passing on the US denied (%v)", err)
	}
	// GBR holds the report from CAN, not from the US, which never
	// released it to GBR: the US refuses GBR's request.
	if out, errs, code := run(t, "", "release", "request", approved, "--to", "AUS", "--dir", dir("GBR")); code == 0 || !strings.Contains(errs, "has not released") {
		t.Errorf("release request by GBR for a report the US never released to it: exit %d; want refused by the US\n%s%s", code, out, errs)
	}
	notHeld := exercise.ObjectID(sc.ID, "report", "never-published")
	if out, errs, code := run(t, "", "release", "request", notHeld, "--to", "GBR", "--dir", dir("CAN")); code == 0 || !strings.Contains(errs, "does not hold") {
		t.Errorf("release request for an object CAN does not hold: exit %d; want refused\n%s%s", code, out, errs)
	}
}

// consentScenario is testdata/consent.yaml.
func consentScenario(t *testing.T) *exercise.Scenario {
	t.Helper()
	data, err := os.ReadFile("testdata/consent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := exercise.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// consentFed starts the nations of testdata/consent.yaml as running nodes,
// stopped when the test ends.
func consentFed(t *testing.T) (*exercise.Scenario, *exerciseFed) {
	t.Helper()
	sc := consentScenario(t)
	f, err := newExerciseFed(context.Background(), sc, t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return sc, f
}

// waitHolds waits until nation's node holds every object.
func waitHolds(t *testing.T, f *exerciseFed, nation string, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			held, err := f.Holds(context.Background(), nation, id)
			if err != nil {
				t.Fatal(err)
			}
			if held {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not hold %s after 30 s", nation, id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestServeDeliversConsentAgain: a request made while the link to the
// originator is cut, and an answer given while it is cut again, reach the
// partner once the link heals, delivered again by the running nodes
// without anyone retrying.
func TestServeDeliversConsentAgain(t *testing.T) {
	defer func(d time.Duration) { deliverInterval = d }(deliverInterval)
	deliverInterval = 100 * time.Millisecond
	sc, f := consentFed(t)
	ctx := context.Background()
	id := exercise.ObjectID(sc.ID, "report", "delivered-again")
	if err := f.Publish(ctx, "USA", exercise.Object{ID: id, Type: "report", Name: "Source reporting",
		Banner: "SECRET//ORCON//REL TO USA, CAN, GBR//ORIGINATOR USA"}); err != nil {
		t.Fatal(err)
	}
	waitHolds(t, f, "CAN", id)
	can, err := f.workflow("CAN")
	if err != nil {
		t.Fatal(err)
	}
	usa, err := f.workflow("USA")
	if err != nil {
		t.Fatal(err)
	}
	waitRequest := func(w *federation.Workflow, box mailbox.RequestBox, id string, ok func(mailbox.Request) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := w.Store.GetRequest(ctx, box, id)
			if err == nil && ok(r) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s after 30 s: %+v, %v", what, r, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// whileCut does something while the link between CAN and the US is
	// cut.
	whileCut := func(do func()) {
		t.Helper()
		if err := f.Partition(ctx, "CAN", "USA"); err != nil {
			t.Fatal(err)
		}
		do()
		if err := f.Heal(ctx, "CAN", "USA"); err != nil {
			t.Fatal(err)
		}
	}

	var r mailbox.Request
	whileCut(func() {
		var err error
		if r, err = can.Request(ctx, id, "GBR", "asked while the link was cut"); err == nil || r.ID == "" {
			t.Fatalf("Request over a cut link = %+v, %v; want it kept, and an error", r, err)
		}
	})
	waitRequest(usa, mailbox.RequestInbox, r.ID, func(q mailbox.Request) bool { return q.State == mailbox.RequestPending },
		"the US's inbox does not hold the request CAN's node delivered again")
	waitRequest(can, mailbox.RequestOutbox, r.ID, func(q mailbox.Request) bool { return !q.Delivered.IsZero() && q.DeliveryError == "" },
		"CAN's outbox does not show the request delivered")

	whileCut(func() {
		if a, err := usa.Approve(ctx, r.ID, 0); err == nil || a.State != mailbox.RequestApproved {
			t.Fatalf("Approve over a cut link = %+v, %v; want it approved, and an error", a, err)
		}
	})
	waitRequest(can, mailbox.RequestOutbox, r.ID, func(q mailbox.Request) bool { return q.State == mailbox.RequestApproved },
		"CAN's outbox does not hold the approval the US's node delivered again")
	waitRequest(usa, mailbox.RequestInbox, r.ID, func(q mailbox.Request) bool { return !q.Delivered.IsZero() && q.DeliveryError == "" },
		"the US's inbox does not show the approval delivered")
	waitHolds(t, f, "GBR", id)
}
