package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Federation state (see package federation/mailbox): each partner's outbox,
// filled in the transactions of PutObjects and ApplyReleases, and each
// sender's inbox cursor, advanced in the transaction that stores a batch.

// outboxLock is the key of the advisory lock that writers of the outbox
// take: "tl-outbx" in ASCII. It closes a race that row locks cannot: a
// writer adding versions of a class while a release change makes the
// class releasable would each miss the other's uncommitted rows, and the
// versions would never be queued. ApplyReleases takes the lock before it
// writes the releases, PutObjects before it reads them; whichever comes
// second sees what the first committed.
const outboxLock = 0x746c2d6f75746278

func lockOutbox(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(outboxLock)); err != nil {
		return fmt.Errorf("outbox: lock: %w", err)
	}
	return nil
}

// anyReleasable reports whether a change makes anything releasable: only
// then does ApplyReleases queue versions and need the outbox lock.
func anyReleasable(set []tearline.ClassRelease) bool {
	for _, r := range set {
		if mailbox.Releasable(r.Outcome) {
			return true
		}
	}
	return false
}

// enqueueAdded queues, for every partner, the versions PutObjects just
// wrote to collection num (date_added in [first, last]) whose class is
// already releasable to it. Classes decided later are queued by
// enqueueReleased.
func enqueueAdded(ctx context.Context, tx pgx.Tx, num int32, first, last int64) error {
	if err := lockOutbox(ctx, tx); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `INSERT INTO outbox (partner, seq, collection, date_added)
		SELECT r.partner,
			coalesce((SELECT h.last FROM outbox_heads h WHERE h.partner = r.partner), 0)
				+ row_number() OVER (PARTITION BY r.partner ORDER BY o.date_added),
			o.collection, o.date_added
		FROM objects o JOIN releases r ON r.class = o.class
		WHERE o.collection = $1 AND o.date_added BETWEEN $2 AND $3 AND o.class <> 0 AND r.outcome = ANY($4::smallint[])
		RETURNING partner, seq`, num, first, last, []int16{int16(tearline.Allow), int16(tearline.AllowVariant)})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return raiseHeads(ctx, tx, rows)
}

// enqueueReleased queues every stored version of the classes that set makes
// releasable to a partner, in the order the node added them, unless the
// version is in the partner's outbox already. The caller holds the outbox
// lock.
func enqueueReleased(ctx context.Context, tx pgx.Tx, set []tearline.ClassRelease) error {
	type pair struct {
		class   int64
		partner string
	}
	seen := map[pair]bool{}
	var classes []int64
	var partners []string
	for _, r := range set {
		p := pair{r.Class, r.Partner}
		if mailbox.Releasable(r.Outcome) && !seen[p] {
			seen[p] = true
			classes, partners = append(classes, r.Class), append(partners, r.Partner)
		}
	}
	if len(classes) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `WITH g AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS g (class, partner))
		INSERT INTO outbox (partner, seq, collection, date_added)
		SELECT g.partner,
			coalesce((SELECT h.last FROM outbox_heads h WHERE h.partner = g.partner), 0)
				+ row_number() OVER (PARTITION BY g.partner ORDER BY o.date_added),
			o.collection, o.date_added
		FROM g JOIN objects o ON o.class = g.class
		WHERE NOT EXISTS (SELECT FROM outbox x WHERE x.partner = g.partner AND x.date_added = o.date_added)
		RETURNING partner, seq`, classes, partners)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return raiseHeads(ctx, tx, rows)
}

// raiseHeads reads the (partner, seq) rows an insert into the outbox
// returned and moves each partner's head to its highest.
func raiseHeads(ctx context.Context, tx pgx.Tx, rows pgx.Rows) error {
	heads := map[string]int64{}
	var (
		p   string
		seq int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&p, &seq}, func() error {
		heads[p] = max(heads[p], seq)
		return nil
	}); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if len(heads) == 0 {
		return nil
	}
	ps, lasts := make([]string, 0, len(heads)), make([]int64, 0, len(heads))
	for p, l := range heads {
		ps, lasts = append(ps, p), append(lasts, l)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox_heads (partner, last) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (partner) DO UPDATE SET last = excluded.last`, ps, lasts); err != nil {
		return fmt.Errorf("outbox heads: %w", err)
	}
	return nil
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

// OutboxHeads lists every partner's outbox head, sorted by partner.
func (s *Store) OutboxHeads(ctx context.Context) ([]mailbox.Head, error) {
	rows, err := s.pool.Query(ctx, `SELECT partner, last, acked, sent FROM outbox_heads ORDER BY partner`)
	if err != nil {
		return nil, fmt.Errorf("outbox heads: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.Head, error) {
		var h mailbox.Head
		var last, acked, sent int64
		err := row.Scan(&h.Partner, &last, &acked, &sent)
		h.Last, h.Acked, h.Sent = uint64(last), uint64(acked), microTime(sent)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox heads: %w", err)
	}
	return out, nil
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
	err := s.pool.QueryRow(ctx, `SELECT last FROM outbox_heads WHERE partner = $1`, partner).Scan(&head)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	page.Head = uint64(head)
	rows, err := s.pool.Query(ctx, `SELECT x.seq, c.id, o.date_added, o.id, o.type, o.spec_version, o.version, o.versioned,
			o.hash, o.content, r.outcome, r.variant,
			EXISTS (SELECT FROM provenance p WHERE p.object_id = o.id AND p.hash = o.hash AND p.sender = x.partner)
		FROM outbox x
		LEFT JOIN objects o ON o.collection = x.collection AND o.date_added = x.date_added
		LEFT JOIN collections c ON c.num = o.collection
		LEFT JOIN releases r ON r.class = o.class AND r.partner = x.partner AND o.class <> 0
		WHERE x.partner = $1 AND x.seq > $2 ORDER BY x.seq LIMIT $3`, partner, int64(after), limit)
	if err != nil {
		return page, fmt.Errorf("outbox of %s: %w", partner, err)
	}
	defer rows.Close()
	size := 0
	for rows.Next() {
		var (
			seq                          int64
			coll, id, typ, spec, variant *string
			added, version               *int64
			versioned                    *bool
			outcome                      *int16
			hash, content                []byte
			echo                         bool
		)
		if err := rows.Scan(&seq, &coll, &added, &id, &typ, &spec, &version, &versioned, &hash, &content, &outcome, &variant, &echo); err != nil {
			return page, fmt.Errorf("outbox of %s: %w", partner, err)
		}
		e := mailbox.Entry{Seq: uint64(seq), Outcome: tearline.Deny, Echo: echo}
		if coll != nil {
			e.Collection = *coll
		}
		if outcome != nil {
			e.Outcome = tearline.Outcome(*outcome)
		}
		if variant != nil {
			e.Variant = *variant
		}
		if added != nil {
			so := &tearline.StoredObject{DateAdded: time.UnixMicro(*added).UTC()}
			so.ID, so.Type, so.SpecVersion, so.JSON = *id, *typ, *spec, content
			if *versioned {
				so.Version = time.Unix(0, *version).UTC()
			}
			if len(hash) != len(so.Hash) {
				return page, fmt.Errorf("outbox of %s: %s has a corrupt hash of %d bytes", partner, so.ID, len(hash))
			}
			so.Hash = [32]byte(hash)
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
	if err := checkText(partner); err != nil {
		return fmt.Errorf("record sent: partner: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	defer tx.Rollback(ctx)
	var last int64
	err = tx.QueryRow(ctx, `INSERT INTO outbox_heads (partner, sent) VALUES ($1, $2)
		ON CONFLICT (partner) DO UPDATE SET sent = excluded.sent RETURNING last`, partner, at.UnixMicro()).Scan(&last)
	if err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if acked > uint64(last) {
		return fmt.Errorf("record sent to %s: acknowledged %d, but its outbox ends at %d: %w", partner, acked, last, tearline.ErrInvalid)
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox_heads SET acked = GREATEST(acked, $1) WHERE partner = $2`, int64(acked), partner); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE partner = $1 AND seq <= $2`, partner, int64(acked)); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if batch != 0 && len(events) == 0 {
		return fmt.Errorf("record sent to %s: batch %d without its audit entries: %w", partner, batch, tearline.ErrInvalid)
	}
	if err := checkSeq("batch", batch); err != nil {
		return fmt.Errorf("record sent to %s: %w", partner, err)
	}
	if len(events) > 0 {
		first, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, events...)
		if err != nil {
			return fmt.Errorf("record sent to %s: audit log: %w", partner, err)
		}
		if batch != 0 {
			if err := addReceipt(ctx, tx, partner, mailbox.RoleSender, batch, first, at); err != nil {
				return fmt.Errorf("record sent to %s: %w", partner, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record sent to %s: commit: %w", partner, err)
	}
	return nil
}

// InboxCursor returns how far sender's outbox has been applied here.
func (s *Store) InboxCursor(ctx context.Context, sender string) (mailbox.Cursor, error) {
	c := mailbox.Cursor{Sender: sender}
	var through, head, received int64
	err := s.pool.QueryRow(ctx, `SELECT through, head, received FROM inbox WHERE sender = $1`, sender).Scan(&through, &head, &received)
	if errors.Is(err, pgx.ErrNoRows) {
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
	return s.putObjects(ctx, collection, objs, func(tx pgx.Tx, results []tearline.PutResult) error {
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
	if err := checkText(d.Sender); err != nil {
		return fmt.Errorf("receive: sender: %w", err)
	}
	for _, v := range []uint64{d.Through, d.SenderHead} {
		if err := checkSeq("sequence number", v); err != nil {
			return fmt.Errorf("receive from %s: %w", d.Sender, err)
		}
	}
	return nil
}

func (s *Store) deliver(ctx context.Context, tx pgx.Tx, objs []*tearline.Object, results []tearline.PutResult, d *mailbox.Delivery) error {
	// The cursor row is locked for the rest of the transaction: of two
	// replicas applying the same batch, the second finds it delivered.
	if _, err := tx.Exec(ctx, `INSERT INTO inbox (sender, through, head, received) VALUES ($1, 0, 0, 0) ON CONFLICT DO NOTHING`, d.Sender); err != nil {
		return fmt.Errorf("receive from %s: cursor: %w", d.Sender, err)
	}
	var through int64
	if err := tx.QueryRow(ctx, `SELECT through FROM inbox WHERE sender = $1 FOR UPDATE`, d.Sender).Scan(&through); err != nil {
		return fmt.Errorf("receive from %s: cursor: %w", d.Sender, err)
	}
	switch {
	case uint64(through) >= d.Through:
		return fmt.Errorf("receive from %s: through %d, applied through %d: %w", d.Sender, d.Through, through, mailbox.ErrDelivered)
	case uint64(through) != d.After:
		return fmt.Errorf("receive from %s: batch after %d, applied through %d: %w", d.Sender, d.After, through, mailbox.ErrOutOfOrder)
	}
	received := d.Received.UnixMicro()
	if _, err := tx.Exec(ctx, `UPDATE inbox SET through = $2, head = $3, received = $4 WHERE sender = $1`,
		d.Sender, int64(d.Through), int64(max(d.SenderHead, d.Through)), received); err != nil {
		return fmt.Errorf("receive from %s: cursor: %w", d.Sender, err)
	}
	if d.Header != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO received_batches (sender, through, header, signature, received) VALUES ($1, $2, $3, $4, $5)`,
			d.Sender, int64(d.Through), d.Header, d.Signature, received); err != nil {
			return fmt.Errorf("receive from %s: batch record: %w", d.Sender, err)
		}
	}
	if len(d.Provenance) > 0 {
		kept := make(map[string]bool, len(objs))
		for i, o := range objs {
			if i < len(results) && (results[i].Status == tearline.Added || results[i].Status == tearline.Present) {
				kept[o.ID+"\x00"+string(o.Hash[:])] = true
			}
		}
		var ids, origs []string
		var hashes, proofs, chains [][]byte // a nil chain is NULL
		for _, p := range d.Provenance {
			if !kept[p.ObjectID+"\x00"+string(p.Hash[:])] {
				continue
			}
			ids, hashes = append(ids, p.ObjectID), append(hashes, p.Hash[:])
			origs, proofs = append(origs, strings.Join(p.Originators, ",")), append(proofs, nonNil(p.Proof))
			var chain []byte
			if len(p.Chain) > 0 {
				chain = p.Chain
			}
			chains = append(chains, chain)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO provenance (object_id, hash, sender, originators, through, proof, chain)
			SELECT p.id, p.hash, $5, p.originators, $6, p.proof, p.chain
			FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bytea[], $7::bytea[]) AS p (id, hash, originators, proof, chain)
			ON CONFLICT DO NOTHING`, ids, hashes, origs, proofs, d.Sender, int64(d.Through), chains); err != nil {
			return fmt.Errorf("receive from %s: provenance: %w", d.Sender, err)
		}
	}
	if d.Record != nil {
		if evs := d.Record(results); len(evs) > 0 {
			first, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, evs...)
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

// Origins returns the provenance of the received versions of an object,
// by sender and batch.
func (s *Store) Origins(ctx context.Context, objectID string) ([]mailbox.Origin, error) {
	m, err := s.OriginsOf(ctx, []string{objectID})
	if err != nil {
		return nil, fmt.Errorf("provenance of %s: %w", objectID, err)
	}
	return m[objectID], nil
}

// OriginsOf returns Origins for each of ids that has any, in one query.
func (s *Store) OriginsOf(ctx context.Context, ids []string) (map[string][]mailbox.Origin, error) {
	out := map[string][]mailbox.Origin{}
	rows, err := s.pool.Query(ctx, `SELECT p.object_id, p.hash, p.sender, p.originators, p.through, p.proof, p.chain, b.header, b.signature, b.received
		FROM provenance p JOIN received_batches b ON b.sender = p.sender AND b.through = p.through
		WHERE p.object_id = ANY($1) ORDER BY p.object_id, p.sender, p.through`, ids)
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var o mailbox.Origin
		var id, origs string
		var hash []byte
		var through, received int64
		if err := row.Scan(&id, &hash, &o.Sender, &origs, &through, &o.Proof, &o.Chain, &o.Header, &o.Signature, &received); err != nil {
			return struct{}{}, err
		}
		if len(hash) != len(o.Hash) {
			return struct{}{}, fmt.Errorf("%s: corrupt hash of %d bytes", id, len(hash))
		}
		o.Hash = [32]byte(hash)
		o.Originators, o.Through, o.Received = splitList(origs), uint64(through), microTime(received)
		out[id] = append(out[id], o)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("provenance: %w", err)
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
	rows, err := s.pool.Query(ctx, `SELECT sender, through, head, received FROM inbox ORDER BY sender`)
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	l.In, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.Cursor, error) {
		var c mailbox.Cursor
		var through, head, received int64
		err := row.Scan(&c.Sender, &through, &head, &received)
		c.Through, c.SenderHead, c.Received = uint64(through), uint64(head), microTime(received)
		return c, err
	})
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT partner, direction, message, at FROM federation_errors ORDER BY partner, direction`)
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	l.Errors, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.LinkError, error) {
		var e mailbox.LinkError
		var dir string
		var at int64
		err := row.Scan(&e.Partner, &dir, &e.Message, &at)
		e.Direction, e.At = mailbox.Direction(dir), microTime(at)
		return e, err
	})
	if err != nil {
		return l, fmt.Errorf("links: %w", err)
	}
	return l, nil
}

// SetLinkError records the last error of one side of the link with
// partner; an empty message clears it.
func (s *Store) SetLinkError(ctx context.Context, partner string, dir mailbox.Direction, message string, at time.Time) error {
	if err := checkText(partner); err != nil {
		return fmt.Errorf("link error: partner: %w", err)
	}
	message = strings.ToValidUTF8(strings.ReplaceAll(message, "\x00", ""), "?")
	var err error
	if message == "" {
		_, err = s.pool.Exec(ctx, `DELETE FROM federation_errors WHERE partner = $1 AND direction = $2`, partner, string(dir))
	} else {
		_, err = s.pool.Exec(ctx, `INSERT INTO federation_errors (partner, direction, message, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (partner, direction) DO UPDATE SET message = excluded.message, at = excluded.at`,
			partner, string(dir), message, at.UnixMicro())
	}
	if err != nil {
		return fmt.Errorf("link error of %s: %w", partner, err)
	}
	return nil
}
