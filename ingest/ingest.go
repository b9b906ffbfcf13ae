// Package ingest is the one path by which STIX content enters a node: bulk
// import, TAXII POST and, later, the federation inbox all go through it.
//
// It streams objects from a reader, parses and validates them in parallel,
// and writes them to the store in ordered, atomic batches, reporting what
// happened to each object. It MUST NOT write an object that failed
// validation, and MUST report every object it read exactly once.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// Store is what ingest needs of a store.
type Store interface {
	PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error)
}

// Options tune an ingest run.
type Options struct {
	// Collection receives the objects (id or alias). Required.
	Collection string
	// BatchSize is the number of objects per store transaction.
	BatchSize int
	// Workers parse in parallel; 0 means one per CPU.
	Workers int
	// MaxObjectSize bounds one object's JSON text; 0 means the default.
	MaxObjectSize int
	// Progress, if set, is called after each batch is committed.
	Progress func(Summary)
	// Reject, if set, is called for every rejected object, in input order.
	Reject func(Rejection)
	// Markings, if set, are marking-definition ids given to every object
	// that carries no object_marking_refs of its own (the label an
	// originator puts on what it imports). The definitions themselves must
	// come earlier in the input or be stored already.
	Markings []string
	// Classify, if set, gives each object its release class (see package
	// release) from its parsed form and its label: the zero label when the
	// object carries no markings or its markings cannot be read yet. The
	// result is stored as Object.ReleaseClass; an error rejects the
	// object. Marking definitions are not classified.
	Classify func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error)
	// Elements, if not nil, are the objects to read, already split (the
	// elements of a TAXII envelope, say, each a complete JSON value), in
	// place of the reader given to Stream, which is then not read. An
	// element that is not a JSON object, or is larger than MaxObjectSize,
	// is rejected as the decoder rejects it in a bundle. They are read in
	// place, not copied: the objects stored share their memory, so they
	// MUST NOT change afterwards.
	Elements [][]byte
}

// Rejection is an object that was not stored, and why.
type Rejection struct {
	Index int
	ID    string
	Rule  string
	Err   error
}

func (r Rejection) Error() string { return r.Err.Error() }

// Summary counts what happened to the objects read.
type Summary struct {
	Read     int
	Added    int
	Present  int
	Rejected int
	Elapsed  time.Duration
}

// Rate is the objects read per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Read) / s.Elapsed.Seconds()
}

// ErrConflictRule names the rule reported when an object's id and version
// are already taken by different content.
const ErrConflictRule = "duplicate-version"

// ErrRecalledRule names the rule reported when an object is a version
// that its originator recalled.
const ErrRecalledRule = "recalled"

// item is one object on its way through the pipeline.
type item struct {
	index int
	raw   []byte
	value *stix.Value // the parsed object, until its label is read
	obj   *tearline.Object
	err   error // an *stix.ObjectError
}

type chunk struct {
	items []item
	done  chan struct{}
}

// decode returns the reader of the input's objects, one by one, with
// their index: the elements given in opts, or a STIX decoder on r.
func decode(r io.Reader, opts Options) func() ([]byte, int, error) {
	maxSize := opts.MaxObjectSize
	if maxSize <= 0 {
		maxSize = stix.DefaultMaxObjectSize
	}
	if opts.Elements != nil {
		i := 0
		return func() ([]byte, int, error) {
			if i == len(opts.Elements) {
				return nil, 0, io.EOF
			}
			idx, e := i, opts.Elements[i]
			i++
			switch t := bytes.TrimLeft(e, " \t\r\n"); {
			case len(t) == 0 || t[0] != '{':
				return nil, idx, &stix.ObjectError{Index: idx, Problems: []stix.Problem{{Rule: "object-type", Path: "$",
					Msg: fmt.Sprintf("element %d is not a JSON object", idx)}}}
			case len(e) > maxSize:
				return nil, idx, &stix.ObjectError{Index: idx, Problems: []stix.Problem{{Rule: "object-too-large", Path: "$",
					Msg: fmt.Sprintf("element %d is larger than the %d-byte limit", idx, maxSize)}}}
			}
			return e, idx, nil
		}
	}
	dec := stix.NewDecoder(r)
	dec.SetMaxObjectSize(maxSize)
	return dec.Next
}

// Stream reads every object from r into the store. It returns when the input
// is exhausted, the context is cancelled, or the input or store fails; the
// summary then counts what was committed before the failure.
func Stream(parent context.Context, store Store, r io.Reader, opts Options) (Summary, error) {
	if opts.Collection == "" {
		return Summary{}, errors.New("ingest: no collection given")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10000
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var markWith []byte // `,"object_marking_refs":[...]}`
	if len(opts.Markings) > 0 {
		refs, _ := json.Marshal(opts.Markings)
		markWith = append(append([]byte(`,"object_marking_refs":`), refs...), '}')
	}

	const chunkSize = 256
	work := make(chan *chunk, opts.Workers*2)
	ordered := make(chan *chunk, opts.Workers*4)

	// Reader: splits the stream into chunks, in order.
	var readErr error
	go func() {
		defer close(work)
		defer close(ordered)
		c := &chunk{done: make(chan struct{})}
		send := func() bool {
			select {
			case ordered <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- c:
			case <-ctx.Done():
				return false
			}
			c = &chunk{done: make(chan struct{})}
			return true
		}
		next := decode(r, opts)
		for {
			raw, idx, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var oe *stix.ObjectError
				if errors.As(err, &oe) {
					c.items = append(c.items, item{index: idx, err: oe})
				} else {
					readErr = err
					break
				}
			} else {
				if opts.Elements == nil {
					// The decoder reuses its buffer.
					raw = append([]byte(nil), raw...)
				}
				c.items = append(c.items, item{index: idx, raw: raw})
			}
			if len(c.items) == chunkSize && !send() {
				return
			}
		}
		if len(c.items) > 0 {
			send()
		}
	}()

	// Parsers.
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				for i := range c.items {
					it := &c.items[i]
					if it.err != nil {
						continue
					}
					obj, v, err := stix.Parse(it.raw)
					if err == nil && markWith != nil && obj.Type != "marking-definition" {
						if _, marked := v.Get("object_marking_refs"); !marked {
							// Add the markings as the object's last
							// property; the result is parsed again so
							// that its hash covers them.
							patched := append(obj.JSON[:len(obj.JSON)-1:len(obj.JSON)-1], markWith...)
							obj, v, err = stix.Parse(patched)
						}
					}
					it.raw = nil
					if err != nil {
						var oe *stix.ObjectError
						if errors.As(err, &oe) {
							oe.Index = it.index
						}
						it.err = err
						continue
					}
					it.obj = obj
					it.value = v
				}
				close(c.done)
			}
		}()
	}

	labels := newLabelReader(store, opts.Collection)
	labels.classify = opts.Classify

	// Batcher: gathers parsed objects into batches, in input order, and
	// hands them to the committer, so that parsing goes on while a batch
	// is being written.
	batches := make(chan []item, 1)
	go func() {
		defer close(batches)
		batch := make([]item, 0, opts.BatchSize)
		for {
			var c *chunk
			select {
			case next, ok := <-ordered:
				if !ok {
					if len(batch) > 0 {
						select {
						case batches <- batch:
						case <-ctx.Done():
						}
					}
					return
				}
				c = next
			case <-ctx.Done():
				return
			}
			select {
			case <-c.done:
			case <-ctx.Done():
				return
			}
			for _, it := range c.items {
				labels.check(ctx, &it)
				batch = append(batch, it)
				if len(batch) >= opts.BatchSize {
					select {
					case batches <- batch:
					case <-ctx.Done():
						return
					}
					batch = make([]item, 0, opts.BatchSize)
				}
			}
		}
	}()

	// Committer: writes each batch in one transaction and accounts for
	// every object in it.
	var sum Summary
	commit := func(batch []item) error {
		objs := make([]*tearline.Object, 0, len(batch))
		for _, it := range batch {
			if it.obj != nil {
				objs = append(objs, it.obj)
			}
		}
		var results []tearline.PutResult
		if len(objs) > 0 {
			var err error
			results, err = store.PutObjects(ctx, opts.Collection, objs)
			if err != nil {
				return fmt.Errorf("ingest: store batch of objects %d to %d: %w", batch[0].index, batch[len(batch)-1].index, err)
			}
		}
		k := 0
		for _, it := range batch {
			sum.Read++
			if it.obj == nil {
				sum.Rejected++
				report(opts.Reject, it.index, it.err)
				continue
			}
			switch results[k].Status {
			case tearline.Added:
				sum.Added++
			case tearline.Present:
				sum.Present++
			case tearline.Conflict:
				sum.Rejected++
				report(opts.Reject, it.index, &stix.ObjectError{Index: it.index, ID: it.obj.ID, Problems: []stix.Problem{{
					Rule: ErrConflictRule, Path: "$.modified",
					Msg: fmt.Sprintf("another object with id %s and this version (modified %s) but different content is already stored or came earlier in this input; a changed object needs a new modified timestamp",
						it.obj.ID, stix.FormatTimestamp(it.obj.Version)),
				}}})
			case tearline.Recalled:
				sum.Rejected++
				report(opts.Reject, it.index, &stix.ObjectError{Index: it.index, ID: it.obj.ID, Problems: []stix.Problem{{
					Rule: ErrRecalledRule, Path: "$",
					Msg: fmt.Sprintf("this version of %s was recalled by its originator; a recalled version is not stored again", it.obj.ID),
				}}})
			}
			k++
		}
		sum.Elapsed = time.Since(start)
		if opts.Progress != nil {
			opts.Progress(sum)
		}
		return nil
	}

	var writeErr error
	for batch := range batches {
		if writeErr = commit(batch); writeErr != nil {
			break
		}
	}
	cancel()
	if writeErr != nil || parent.Err() != nil {
		// Do not wait for the reader: it may be blocked on its input (a
		// network stream). The pipeline's goroutines end once it returns.
		go func() {
			for range batches {
			}
			for range ordered {
			}
		}()
		sum.Elapsed = time.Since(start)
		if writeErr != nil {
			return sum, writeErr
		}
		return sum, parent.Err()
	}
	// The input was read to its end: the reader and parsers are done.
	wg.Wait()
	sum.Elapsed = time.Since(start)
	if readErr != nil {
		return sum, fmt.Errorf("ingest: %w", readErr)
	}
	return sum, nil
}

func report(fn func(Rejection), index int, err error) {
	if fn == nil {
		return
	}
	rej := Rejection{Index: index, Err: err}
	var oe *stix.ObjectError
	if errors.As(err, &oe) {
		rej.ID = oe.ID
		if len(oe.Problems) > 0 {
			rej.Rule = oe.Problems[0].Rule
		}
	}
	fn(rej)
}
