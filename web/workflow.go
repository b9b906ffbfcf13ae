package web

import (
	"context"
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
func releaseRequest(r mailbox.Request) ReleaseRequest {
	out := ReleaseRequest{Request: r}
	if r.State == mailbox.RequestApproved && len(r.Record) > 0 {
		if p, err := federation.ParseConsent(r.Record); err == nil {
			if p.Original != "" {
				out.Tearline = p.Object
			}
			out.Expires = p.Expires
		}
	}
	return out
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
		out[i] = releaseRequest(r)
	}
	return out, nil
}

func (c workflowRequests) Request(ctx context.Context, box mailbox.RequestBox, id string) (ReleaseRequest, error) {
	r, err := c.w.Store.GetRequest(ctx, box, id)
	return releaseRequest(r), err
}

func (c workflowRequests) Ask(ctx context.Context, actor, object, recipient, note string) (ReleaseRequest, error) {
	r, err := c.as(actor).Request(ctx, object, recipient, note)
	return releaseRequest(r), err
}

func (c workflowRequests) Approve(ctx context.Context, actor, id string, holds time.Duration) (ReleaseRequest, error) {
	r, err := c.as(actor).Approve(ctx, id, holds)
	return releaseRequest(r), err
}

func (c workflowRequests) ApproveTearline(ctx context.Context, actor, id, variant string, version time.Time, holds time.Duration) (ReleaseRequest, error) {
	r, err := c.as(actor).ApproveTearline(ctx, id, variant, version, holds)
	return releaseRequest(r), err
}

func (c workflowRequests) Deny(ctx context.Context, actor, id, reason string) (ReleaseRequest, error) {
	r, err := c.as(actor).Deny(ctx, id, reason)
	return releaseRequest(r), err
}
