package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
)

// addConsoleUser adds a user with role to the usersNode, with a read grant
// on the default collection and a token to sign in with.
func addConsoleUser(t *testing.T, u *usersNode, name, clearance, role string) {
	t.Helper()
	if _, errs, code := run(t, "", "user", "add", "--dir", u.dir, name, "--nationality", "GBR", "--clearance", clearance, "--role", role); code != 0 {
		t.Fatalf("user add %s: %s", name, errs)
	}
	if _, errs, code := run(t, "", "collection", "grant", "--dir", u.dir, name, "default", "--read"); code != 0 {
		t.Fatalf("collection grant %s: %s", name, errs)
	}
	out, errs, code := run(t, "", "user", "token", "--dir", u.dir, name)
	if code != 0 {
		t.Fatalf("user token %s: %s", name, errs)
	}
	u.tokens[name] = strings.TrimSpace(out)
}

// TestConsoleRequestsServed: the console of `tearline serve` answers
// release requests through the node's consent workflow: a request USA
// sent is in the inbox, the releaser approves it, the consent is signed
// with the node's key and kept, and the failed delivery (USA's card is
// not pinned) is shown with a way to deliver again. An administrator
// previews an agreement change without applying it.
func TestConsoleRequestsServed(t *testing.T) {
	u := newUsersNode(t)
	addConsoleUser(t, u, "m.reed", "GBR:SECRET", "releaser")
	addConsoleUser(t, u, "a.admin", "GBR:SECRET", "admin")
	ctx := context.Background()
	_, s := openNodeStore(t, u.dir)
	st := s.(federation.RequestRecords)
	const id = "consent-request--55555555-5555-4555-8555-555555555555"
	now := time.Now().UTC()
	r := mailbox.Request{Box: mailbox.RequestInbox, ID: id, Requester: "USA", Originator: "GBR", Recipient: "CAN", Object: objSecret,
		Created: now, State: mailbox.RequestPending}
	if err := st.PutRequest(ctx, r, federation.RequestEvent("USA", "received", &r, now)); err != nil {
		t.Fatal(err)
	}

	c := newConsoleClient(t, u)
	c.signIn(t, "m.reed")
	if _, _, home := c.do(t, "GET", "/console/home", nil); !strings.Contains(home, `<strong>1</strong> release request waits`) {
		t.Errorf("the dashboard does not count the waiting request:\n%s", home)
	}
	code, _, page := c.do(t, "GET", "/console/requests", nil)
	if code != 200 || !strings.Contains(page, `data-request="`+id+`" data-state="pending"`) {
		t.Fatalf("requests page = %d\n%s", code, page)
	}
	code, _, page = c.do(t, "POST", "/console/requests/"+id+"/approve", url.Values{"csrf": {c.csrf}})
	if code != 200 || !strings.Contains(page, `id="request-failed"`) || !strings.Contains(page, `data-action="redeliver"`) {
		t.Fatalf("approve = %d; want approved, its delivery failed and offered again\n%s", code, page)
	}
	got, err := st.GetRequest(ctx, mailbox.RequestInbox, id)
	if err != nil || got.State != mailbox.RequestApproved || got.DeliveryError == "" {
		t.Fatalf("the request: %+v, %v; want approved, not delivered", got, err)
	}
	p, err := federation.ParseConsent(got.Record)
	if err != nil || p.Originator != "GBR" || p.Object != objSecret {
		t.Fatalf("the kept record: %+v, %v", p, err)
	}

	a := newConsoleClient(t, u)
	a.signIn(t, "a.admin")
	data, err := os.ReadFile(filepath.Join("../../policy/examples", "fvey.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v4 := strings.Replace(strings.Replace(string(data), "version: 3", "version: 4", 1), "  GBR: TOP SECRET", "  GBR: SECRET", 1)
	code, _, page = a.do(t, "POST", "/console/agreements/preview", url.Values{"csrf": {a.csrf}, "agreement": {v4}})
	if code != 200 || !strings.Contains(page, "withdrawn from USA") || !strings.Contains(page, "fvey-intel@v4") {
		t.Fatalf("impact preview = %d\n%s", code, page)
	}
	code, _, page = a.do(t, "POST", "/console/agreements/preview", url.Values{"csrf": {a.csrf}, "agreement": {"parties: ["}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="impact-problem"`) {
		t.Errorf("impact preview of a broken text = %d\n%s", code, page)
	}
	if out, _, _ := run(t, "", "agreement", "list", "--dir", u.dir); strings.Contains(out, "@v4") || strings.Contains(out, "version 4") {
		t.Errorf("the preview added the agreement:\n%s", out)
	}
}
