package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Federation state (see package federation/mailbox): each partner's outbox,
// filled in the transactions of PutObjects and ApplyReleases, and each
// sender's inbox cursor, advanced in the transaction that stores a batch.

// enqueueAdded queues, for every partner, the versions just written by
// PutObjects (date_added in (from, to]) whose class is already releasable to
// it. Classes decided later are queued by enqueueReleased.
func enqueueAdded(ctx context.Context, tx *sql.Tx, from, to int64) error {
	if to <= from {
		return nil
	}
	// One row comes back per entry queued: read uninterrupted (a goroutine
	// per row otherwise), inside the writer's transaction.
	rows, err := tx.QueryContext(uninterrupted(ctx), `INSERT INTO outbox (partner, seq, date_added)
		SELECT r.partner,
			coalesce((SELECT h.last FROM outbox_heads h WHERE h.partner = r.partner), 0)
				+ row_number() OVER (PARTITION BY r.partner ORDER BY o.date_added),
			o.date_added
		FROM objects o JOIN releases r ON r.class = o.class
		WHERE o.date_added > ? AND o.date_added <= ? AND o.class <> 0 AND r.outcome IN (?, ?)
		RETURNING partner, seq`, from, to, int(tearline.Allow), int(tearline.AllowVariant))
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return raiseHeads(ctx, tx, rows)
}

// enqueueReleased queues every stored version of the classes that set makes
// releasable to a partner, in the order the node added them, unless the
// version is in the partner's outbox already.
func enqueueReleased(ctx context.Context, tx *sql.Tx, set []tearline.ClassRelease) error {
	type pair struct {
		class   int64
		partner string
	}
	var pairs []pair
	seen := map[pair]bool{}
	for _, r := range set {
		p := pair{r.Class, r.Partner}
		if mailbox.Releasable(r.Outcome) && !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	const chunk = 400
	for start := 0; start < len(pairs); start += chunk {
		part := pairs[start:min(start+chunk, len(pairs))]
		args := make([]any, 0, 2*len(part))
		for _, p := range part {
			args = append(args, p.class, p.partner)
		}
		rows, err := tx.QueryContext(uninterrupted(ctx), `WITH g (class, partner) AS (VALUES (?, ?)`+strings.Repeat(`, (?, ?)`, len(part)-1)+`)
			INSERT INTO outbox (partner, seq, date_added)
			SELECT g.partner,
				coalesce((SELECT h.last FROM outbox_heads h WHERE h.partner = g.partner), 0)
					+ row_number() OVER (PARTITION BY g.partner ORDER BY o.date_added),
				o.date_added
			FROM g JOIN objects o ON o.class = g.class
			WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.partner = g.partner AND x.date_added = o.date_added)
			RETURNING partner, seq`, args...)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if err := raiseHeads(ctx, tx, rows); err != nil {
			return err
		}
	}
	return nil
}

// raiseHeads reads the (partner, seq) rows an insert into the outbox
// returned (queried with uninterrupted(ctx)) and moves each partner's head
// to its highest.
func raiseHeads(ctx context.Context, tx *sql.Tx, rows *sql.Rows) error {
	heads := map[string]int64{}
	for n := 0; rows.Next(); n++ {
		if err := cancelled(ctx, n); err != nil {
			rows.Close()
			return fmt.Errorf("outbox: %w", err)
		}
		var p string
		var seq int64
		if err := rows.Scan(&p, &seq); err != nil {
			rows.Close()
			return fmt.Errorf("outbox: %w", err)
		}
		heads[p] = max(heads[p], seq)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	for p, last := range heads {
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_heads (partner, last) VALUES (?, ?)
			ON CONFLICT (partner) DO UPDATE SET last = excluded.last`, p, last); err != nil {
			return fmt.Errorf("outbox head of %s: %w", p, err)
		}
	}
	return nil
}

// OutboxHeads lists every partner's outbox head, sorted by partner.
func (s *Store) OutboxHeads(ctx context.Context) ([]mailbox.Head, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT partner, last, acked, sent FROM outbox_heads ORDER BY partner`)
	if err != nil {
		return nil, fmt.Errorf("outbox heads: %w", err)
	}
	defer rows.Close()
	var out []mailbox.Head
	for rows.Next() {
		var h mailbox.Head
		var last, acked, sent int64
		if err := rows.Scan(&h.Partner, &last, &acked, &sent); err != nil {
			return nil, fmt.Errorf("outbox heads: %w", err)
		}
		h.Last, h.Acked, h.Sent = uint64(last), uint64(acked), microTime(sent)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox heads: %w", err)
	}
	return out, nil
}

func microTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func checkSeq(what string, v uint64) error {
	if v > math.MaxInt64 {
		return fmt.Errorf("%s %d is out of range: %w", what, v, tearline.ErrInvalid)
	}
	return nil
}

// OutboxPage reads up to limit of partner's outbox entries after the
// sequence number after, with each version and its release to the partner
// now, stopping early once the versions' JSON passes maxBytes (the first
// entry is always read).
func (s *Store) OutboxPage(ctx context.Context, partner string, after uint64, limit, maxBytes int) (mailbox.Page, error) {
	page := mailbox.Page{Through: after}
	if err := checkSeq("after", after); err != nil {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	if limit <= 0 {
		return page, fmt.Errorf("outbox of %s: limit %d: %w", partner, limit, tearline.ErrInvalid)
	}
	var head int64
	err := s.db.QueryRowContext(ctx, `SELECT last FROM outbox_heads WHERE partner = ?`, partner).Scan(&head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	page.Head = uint64(head)
	rows, err := s.db.QueryContext(uninterrupted(ctx), `SELECT x.seq, c.id, o.date_added, o.object_id, o.type, o.spec_version, o.version, o.versioned,
			o.hash, o.content, r.outcome, r.variant,
			EXISTS (SELECT 1 FROM provenance p WHERE p.object_id = o.object_id AND p.hash = o.hash AND p.sender = x.partner)
		FROM outbox x
		LEFT JOIN objects o ON o.date_added = x.date_added
		LEFT JOIN collections c ON c.seq = o.collection
		LEFT JOIN releases r ON r.class = o.class AND r.partner = x.partner AND o.class <> 0
		WHERE x.partner = ? AND x.seq > ? ORDER BY x.seq LIMIT ?`, partner, int64(after), limit)
	if err != nil {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	defer rows.Close()
	size := 0
	for n := 0; rows.Next(); n++ {
		if err := cancelled(ctx, n); err != nil {
			return page, fmt.Errorf("outbox of %s: %w", partner, err)
		}
		var (
			seq                                int64
			coll, id, typ, spec, variant       sql.NullString
			added, version, outcome, versioned sql.NullInt64
			hash, content                      []byte
			echo                               bool
		)
		if err := rows.Scan(&seq, &coll, &added, &id, &typ, &spec, &version, &versioned, &hash, &content, &outcome, &variant, &echo); err != nil {
			return page, fmt.Errorf("outbox of %s: %w", partner, err)
		}
		e := mailbox.Entry{Seq: uint64(seq), Collection: coll.String, Outcome: tearline.Deny, Variant: variant.String, Echo: echo}
		if outcome.Valid {
			e.Outcome = tearline.Outcome(outcome.Int64)
		}
		if added.Valid {
			so := &tearline.StoredObject{DateAdded: time.UnixMicro(added.Int64).UTC()}
			so.ID, so.Type, so.SpecVersion, so.JSON = id.String, typ.String, spec.String, content
			if versioned.Int64 != 0 {
				so.Version = time.Unix(0, version.Int64).UTC()
			}
			if len(hash) != len(so.Hash) {
				return page, fmt.Errorf("outbox of %s: %s has a corrupt hash of %d bytes", partner, so.ID, len(hash))
			}
			copy(so.Hash[:], hash)
			e.Object = so
			size += len(content)
		}
		page.Entries = append(page.Entries, e)
		page.Through = e.Seq
		if size >= maxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	return page, nil
}

// RecordSent notes that a batch was served to partner at `at`, that the
// partner acknowledged having applied its outbox through acked, and
// appends the audit entries of the sending, in one transaction. The
// acknowledged entries are removed from the outbox. When batch is not 0,
// the events record the sending of the batch through that sequence number,
// and the receipt of the batch (mailbox.BatchReceipt) is created with the
// index of the first as this node's side, unless it exists already (the
// batch sent again).
func (s *Store) RecordSent(ctx context.Context, partner string, acked uint64, at time.Time, batch uint64, events []ledger.Event) error {
	if err := checkSeq("acknowledged sequence number", acked); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	defer done()
	var last int64
	err = tx.QueryRowContext(ctx, `INSERT INTO outbox_heads (partner, sent) VALUES (?, ?)
		ON CONFLICT (partner) DO UPDATE SET sent = excluded.sent RETURNING last`, partner, at.UnixMicro()).Scan(&last)
	if err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if acked > uint64(last) {
		return fmt.Errorf("record sent to %s: acknowledged %d, but its outbox ends at %d: %w", partner, acked, last, tearline.ErrInvalid)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox_heads SET acked = max(acked, ?) WHERE partner = ?`, int64(acked), partner); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE partner = ? AND seq <= ?`, partner, int64(acked)); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if batch != 0 && len(events) == 0 {
		return fmt.Errorf("record sent to %s: batch %d without its audit entries: %w", partner, batch, tearline.ErrInvalid)
	}
	if err := checkSeq("batch", batch); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if len(events) > 0 {
		first, err := ledger.New(s.ledgerIn(tx)).Append(ctx, events...)
		if err != nil {
			return fmt.Errorf("record sent to %s: audit log: %w", partner, err)
		}
		if batch != 0 {
			if err := addReceipt(ctx, tx, partner, mailbox.RoleSender, batch, first, at); err != nil {
				return fmt.Errorf("record sent to %s: %w", partner, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record sent to %s: commit: %w", partner, err)
	}
	return nil
}

// InboxCursor returns how far sender's outbox has been applied here.
func (s *Store) InboxCursor(ctx context.Context, sender string) (mailbox.Cursor, error) {
	c := mailbox.Cursor{Sender: sender}
	var through, head, received int64
	err := s.db.QueryRowContext(ctx, `SELECT through, head, received FROM inbox WHERE sender = ?`, sender).Scan(&through, &head, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("inbox cursor of %s: %w", sender, err)
	}
	c.Through, c.SenderHead, c.Received = uint64(through), uint64(head), microTime(received)
	return c, nil
}

// Receive applies a delivery: the objects (which may be none), the cursor,
// the batch and provenance records and the audit entries, in one
// transaction.
func (s *Store) Receive(ctx context.Context, collection string, objs []*tearline.Object, d *mailbox.Delivery) ([]tearline.PutResult, error) {
	if err := checkDelivery(d); err != nil {
		return nil, err
	}
	if s.readOnly {
		return nil, errors.New("receive: the store is open read-only")
	}
	return s.putObjects(ctx, collection, objs, func(tx *sql.Tx, results []tearline.PutResult) error {
		return s.deliver(ctx, tx, objs, results, d)
	})
}

func checkDelivery(d *mailbox.Delivery) error {
	switch {
	case d == nil || d.Sender == "":
		return fmt.Errorf("receive: no sender: %w", tearline.ErrInvalid)
	case d.Through <= d.After:
		return fmt.Errorf("receive from %s: empty range (%d, %d]: %w", d.Sender, d.After, d.Through, tearline.ErrInvalid)
	case (d.Header == nil) != (d.Signature == nil):
		return fmt.Errorf("receive from %s: a batch needs both its header and its signature: %w", d.Sender, tearline.ErrInvalid)
	}
	for _, v := range []uint64{d.Through, d.SenderHead} {
		if err := checkSeq("sequence number", v); err != nil {
			return fmt.Errorf("receive from %s: %w", d.Sender, err)
		}
	}
	return nil
}

func (s *Store) deliver(ctx context.Context, tx *sql.Tx, objs []*tearline.Object, results []tearline.PutResult, d *mailbox.Delivery) error {
	var through int64
	err := tx.QueryRowContext(ctx, `SELECT through FROM inbox WHERE sender = ?`, d.Sender).Scan(&through)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("receive from %s: %w", d.Sender, err)
	}
	switch {
	case uint64(through) >= d.Through:
		return fmt.Errorf("receive from %s: through %d, applied through %d: %w", d.Sender, d.Through, through, mailbox.ErrDelivered)
	case uint64(through) != d.After:
		return fmt.Errorf("receive from %s: batch after %d, applied through %d: %w", d.Sender, d.After, through, mailbox.ErrOutOfOrder)
	}
	received := d.Received.UnixMicro()
	if _, err := tx.ExecContext(ctx, `INSERT INTO inbox (sender, through, head, received) VALUES (?, ?, ?, ?)
		ON CONFLICT (sender) DO UPDATE SET through = excluded.through, head = excluded.head, received = excluded.received`,
		d.Sender, int64(d.Through), int64(max(d.SenderHead, d.Through)), received); err != nil {
		return fmt.Errorf("receive from %s: cursor: %w", d.Sender, err)
	}
	if d.Header != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO received_batches (sender, through, header, signature, received) VALUES (?, ?, ?, ?, ?)`,
			d.Sender, int64(d.Through), d.Header, d.Signature, received); err != nil {
			return fmt.Errorf("receive from %s: batch record: %w", d.Sender, err)
		}
	}
	if len(d.Provenance) > 0 {
		kept := keptVersions(objs, results)
		rows := make([]mailbox.Provenance, 0, len(d.Provenance))
		for _, p := range d.Provenance {
			if kept[versionKey{p.ObjectID, p.Hash}] {
				rows = append(rows, p)
			}
		}
		// Many rows to a statement, as for objects: one call into SQLite
		// per chunk rather than per row.
		args := make([]any, 0, insertChunk*7)
		for start := 0; start < len(rows); start += insertChunk {
			chunk := rows[start:min(start+insertChunk, len(rows))]
			args = args[:0]
			for _, p := range chunk {
				var chain any // NULL when none was carried
				if len(p.Chain) > 0 {
					chain = p.Chain
				}
				args = append(args, p.ObjectID, p.Hash[:], d.Sender, strings.Join(p.Originators, ","), int64(d.Through), nonNilBytes(p.Proof), chain)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO provenance (object_id, hash, sender, originators, through, proof, chain) VALUES (?, ?, ?, ?, ?, ?, ?)`+
				strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?)`, len(chunk)-1)+` ON CONFLICT DO NOTHING`, args...); err != nil {
				return fmt.Errorf("receive from %s: provenance: %w", d.Sender, err)
			}
		}
	}
	if d.Record != nil {
		if evs := d.Record(results); len(evs) > 0 {
			first, err := ledger.New(s.ledgerIn(tx)).Append(ctx, evs...)
			if err != nil {
				return fmt.Errorf("receive from %s: audit log: %w", d.Sender, err)
			}
			// A batch with an envelope was logged as sent by the sender:
			// its receipt is to be fetched.
			if d.Header != nil {
				if err := addReceipt(ctx, tx, d.Sender, mailbox.RoleRecipient, d.Through, first, d.Received); err != nil {
					return fmt.Errorf("receive from %s: %w", d.Sender, err)
				}
			}
		}
	}
	return nil
}

type versionKey struct {
	id   string
	hash [32]byte
}

// keptVersions are the versions of a write that the store holds after it:
// added, or present already.
func keptVersions(objs []*tearline.Object, results []tearline.PutResult) map[versionKey]bool {
	kept := make(map[versionKey]bool, len(objs))
	for i, o := range objs {
		if i < len(results) && (results[i].Status == tearline.Added || results[i].Status == tearline.Present) {
			kept[versionKey{o.ID, o.Hash}] = true
		}
	}
	return kept
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Origins returns the provenance of the received versions of an object,
// by sender and batch.
func (s *Store) Origins(ctx context.Context, objectID string) ([]mailbox.Origin, error) {
	m, err := s.OriginsOf(ctx, []string{objectID})
	if err != nil {
		return nil, fmt.Errorf("provenance of %s: %w", objectID, err)
	}
	return m[objectID], nil
}

// OriginsOf returns Origins for each of ids that has any, in one query
// per 500 ids.
func (s *Store) OriginsOf(ctx context.Context, ids []string) (map[string][]mailbox.Origin, error) {
	out := map[string][]mailbox.Origin{}
	for chunk := range slices.Chunk(ids, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT p.object_id, p.hash, p.sender, p.originators, p.through, p.proof, p.chain, b.header, b.signature, b.received
			FROM provenance p JOIN received_batches b ON b.sender = p.sender AND b.through = p.through
			WHERE p.object_id IN (?`+strings.Repeat(`, ?`, len(chunk)-1)+`) ORDER BY p.object_id, p.sender, p.through`, args...)
		if err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
		for rows.Next() {
			var o mailbox.Origin
			var id, origs string
			var hash []byte
			var through, received int64
			if err := rows.Scan(&id, &hash, &o.Sender, &origs, &through, &o.Proof, &o.Chain, &o.Header, &o.Signature, &received); err != nil {
				rows.Close()
				return nil, fmt.Errorf("provenance: %w", err)
			}
			if len(hash) != len(o.Hash) {
				rows.Close()
				return nil, fmt.Errorf("provenance of %s: corrupt hash of %d bytes", id, len(hash))
			}
			copy(o.Hash[:], hash)
			o.Originators, o.Through, o.Received = splitList(origs), uint64(through), microTime(received)
			out[id] = append(out[id], o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
	}
	return out, nil
}

// Links returns the state of every federation link.
func (s *Store) Links(ctx context.Context) (mailbox.Links, error) {
	var l mailbox.Links
	var err error
	if l.Out, err = s.OutboxHeads(ctx); err != nil {
		return l, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT sender, through, head, received FROM inbox ORDER BY sender`)
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c mailbox.Cursor
		var through, head, received int64
		if err := rows.Scan(&c.Sender, &through, &head, &received); err != nil {
			return l, fmt.Errorf("links: %w", err)
		}
		c.Through, c.SenderHead, c.Received = uint64(through), uint64(head), microTime(received)
		l.In = append(l.In, c)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	erows, err := s.db.QueryContext(ctx, `SELECT partner, direction, message, at FROM federation_errors ORDER BY partner, direction`)
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	defer erows.Close()
	for erows.Next() {
		var e mailbox.LinkError
		var at int64
		if err := erows.Scan(&e.Partner, &e.Direction, &e.Message, &at); err != nil {
			return l, fmt.Errorf("links: %w", err)
		}
		e.At = microTime(at)
		l.Errors = append(l.Errors, e)
	}
	if err := erows.Err(); err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	return l, nil
}

// SetLinkError records the last error of one side of the link with
// partner; an empty message clears it.
func (s *Store) SetLinkError(ctx context.Context, partner string, dir mailbox.Direction, message string, at time.Time) error {
	var err error
	if message == "" {
		_, err = s.exec(ctx, `DELETE FROM federation_errors WHERE partner = ? AND direction = ?`, partner, string(dir))
	} else {
		_, err = s.exec(ctx, `INSERT INTO federation_errors (partner, direction, message, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (partner, direction) DO UPDATE SET message = excluded.message, at = excluded.at`,
			partner, string(dir), message, at.UnixMicro())
	}
	if err != nil {
		return fmt.Errorf("link error of %s: %w", partner, err)
	}
	return nil
}
