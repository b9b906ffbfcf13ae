package main

import (
	"context"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
)

// classDecider decides what a recipient may see by release class rather
// than object by object: a page of a thousand versions usually holds a few
// classes, each decided once, now, with the engine in force (so nothing is
// shown on the strength of a decision made before an agreement expired).
// Deciding a class is deciding each of its objects (see package release).
// Versions without a class this node can read are decided from their own
// JSON by the fallback.
type classDecider struct {
	rs tearline.ReleaseStore

	mu sync.Mutex
	// subjects caches decoded classes; a class never changes once made.
	// A nil entry is a class this node cannot read.
	subjects map[int64]*policy.Subject
}

func newClassDecider(s store) *classDecider {
	rs, _ := s.(tearline.ReleaseStore)
	return &classDecider{rs: rs, subjects: map[int64]*policy.Subject{}}
}

// visible reports, for each of objs, whether rc may receive it now.
// Marking definitions are never listed alone.
func (c *classDecider) visible(ctx context.Context, objs []tearline.StoredObject, engine *policy.Engine, rc *tearline.Recipient,
	fallback func(i int) (bool, error)) ([]bool, error) {
	out := make([]bool, len(objs))
	subjects, err := c.load(ctx, objs)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	verdicts := map[int64]bool{}
	for i := range objs {
		if objs[i].Type == "marking-definition" {
			continue
		}
		subject := subjects[objs[i].Class]
		if subject == nil {
			if out[i], err = fallback(i); err != nil {
				return nil, err
			}
			continue
		}
		v, ok := verdicts[objs[i].Class]
		if !ok {
			v = engine.Verdict(&policy.Request{Subject: subject, Recipient: rc, Action: tearline.Release, Time: now}) == tearline.Allow
			verdicts[objs[i].Class] = v
		}
		out[i] = v
	}
	return out, nil
}

// load returns the decoded classes of objs, reading the ones not cached.
func (c *classDecider) load(ctx context.Context, objs []tearline.StoredObject) (map[int64]*policy.Subject, error) {
	out := map[int64]*policy.Subject{}
	var missing []int64
	c.mu.Lock()
	for i := range objs {
		id := objs[i].Class
		if id == 0 {
			continue
		}
		if s, ok := c.subjects[id]; ok {
			out[id] = s
		} else if _, queued := out[id]; !queued {
			out[id] = nil
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 || c.rs == nil {
		return out, nil
	}
	raw, err := c.rs.ReleaseSubjects(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range missing {
		var s *policy.Subject
		if data, ok := raw[id]; ok {
			// An unreadable class (another version of the node wrote it)
			// stays nil: its objects are decided from their own JSON.
			s, _ = release.Subject(data)
		}
		c.subjects[id] = s
		out[id] = s
	}
	return out, nil
}
