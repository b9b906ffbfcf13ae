package web

import (
	"context"
	"fmt"
	"time"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
)

// WorkflowRequests is the console's Requests on the node's consent
// workflow, as 'tearline release' uses it: every answer is signed with the
// node's key, kept with its audit entry naming the signed-in user, and
// delivered to the partner.
func WorkflowRequests(w *federation.Workflow) Requests { return workflowRequests{w: w} }

type workflowRequests struct{ w *federation.Workflow }

// releaseRequest adds to r what its approval's consent record says: the
// tearline it covers instead of the object asked about, and when it lapses.
// err, the error of what returned r, is passed on. A record that does not
// read is an error: the console would otherwise show a consent with no end.
func releaseRequest(r mailbox.Request, err error) (ReleaseRequest, error) {
	out := ReleaseRequest{Request: r}
	if err != nil || r.State != mailbox.RequestApproved || len(r.Record) == 0 {
		return out, err
	}
	p, err := federation.ParseConsent(r.Record)
	if err != nil {
		return out, fmt.Errorf("approved request %s: its consent record does not read: %w", r.ID, err)
	}
	if p.Original != "" {
		out.Tearline = p.Object
	}
	out.Expires = p.Expires
	return out, nil
}

// as is the workflow acting for the user actor.
func (c workflowRequests) as(actor string) *federation.Workflow {
	w := *c.w
	w.Actor = actor
	return &w
}

func (c workflowRequests) Collection() string { return c.w.Collection }

func (c workflowRequests) Requests(ctx context.Context, box mailbox.RequestBox) ([]ReleaseRequest, error) {
	rs, err := c.w.Store.Requests(ctx, box)
	if err != nil {
		return nil, err
	}
	out := make([]ReleaseRequest, len(rs))
	for i, r := range rs {
		if out[i], err = releaseRequest(r, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c workflowRequests) Request(ctx context.Context, box mailbox.RequestBox, id string) (ReleaseRequest, error) {
	return releaseRequest(c.w.Store.GetRequest(ctx, box, id))
}

func (c workflowRequests) Ask(ctx context.Context, actor, object, recipient, note string) (ReleaseRequest, error) {
	return releaseRequest(c.as(actor).Request(ctx, object, recipient, note))
}

func (c workflowRequests) Approve(ctx context.Context, actor, id string, holds time.Duration) (ReleaseRequest, error) {
	return releaseRequest(c.as(actor).Approve(ctx, id, holds))
}

func (c workflowRequests) ApproveTearline(ctx context.Context, actor, id, variant string, version time.Time, holds time.Duration) (ReleaseRequest, error) {
	return releaseRequest(c.as(actor).ApproveTearline(ctx, id, variant, version, holds))
}

func (c workflowRequests) Deny(ctx context.Context, actor, id, reason string) (ReleaseRequest, error) {
	return releaseRequest(c.as(actor).Deny(ctx, id, reason))
}
