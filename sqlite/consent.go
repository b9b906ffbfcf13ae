package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Consents this node was given to pass objects on (see
// mailbox.ConsentStore), and the reclassification of what they cover.

var _ mailbox.ConsentStore = (*Store)(nil)

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// PutConsent keeps a consent with its audit entry.
func (s *Store) PutConsent(ctx context.Context, c mailbox.Consent, ev ledger.Event) error {
	if s.readOnly {
		return errors.New("put consent: the store is open read-only")
	}
	if c.Request == "" || c.Object == "" || len(c.Record) == 0 {
		return errors.New("put consent: request, object and record are required")
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	defer done()
	if _, err := tx.ExecContext(ctx, `INSERT INTO consents (request, originator, holder, recipient, object_id, version, expires, record)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (request) DO UPDATE SET originator = excluded.originator, holder = excluded.holder,
			recipient = excluded.recipient, object_id = excluded.object_id, version = excluded.version,
			expires = excluded.expires, record = excluded.record`,
		c.Request, c.Originator, c.Holder, c.Recipient, c.Object, nanos(c.Version), nanos(c.Expires), c.Record); err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, ev); err != nil {
		return fmt.Errorf("put consent: audit log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put consent: commit: %w", err)
	}
	return nil
}

// ConsentsFor returns the consents kept for passing objectIDs to
// recipient (to anyone when it is empty).
func (s *Store) ConsentsFor(ctx context.Context, recipient string, objectIDs []string) ([]mailbox.Consent, error) {
	var out []mailbox.Consent
	for start := 0; start < len(objectIDs); start += 400 {
		chunk := objectIDs[start:min(start+400, len(objectIDs))]
		args := make([]any, 0, len(chunk)+1)
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT request, originator, holder, recipient, object_id, version, expires, record FROM consents
			WHERE object_id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
		if recipient != "" {
			q += ` AND recipient = ?`
			args = append(args, recipient)
		}
		rows, err := s.db.QueryContext(ctx, q+` ORDER BY object_id, request`, args...)
		if err != nil {
			return nil, fmt.Errorf("consents: %w", err)
		}
		for rows.Next() {
			var c mailbox.Consent
			var version, expires int64
			if err := rows.Scan(&c.Request, &c.Originator, &c.Holder, &c.Recipient, &c.Object, &version, &expires, &c.Record); err != nil {
				rows.Close()
				return nil, fmt.Errorf("consents: %w", err)
			}
			c.Version, c.Expires = fromNanos(version), fromNanos(expires)
			out = append(out, c)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("consents: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("consents: %w", err)
		}
	}
	return out, nil
}

// SetClass gives versions of an object a new release class, interned like
// those of PutObjects, and undecided until the release sets are updated.
func (s *Store) SetClass(ctx context.Context, collection, id string, version time.Time, class []byte) (int, error) {
	if s.readOnly {
		return 0, errors.New("set class: the store is open read-only")
	}
	if len(class) == 0 {
		return 0, errors.New("set class: no class")
	}
	coll, _, err := s.collection(ctx, s.db, collection)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	defer done()
	key := sha256.Sum256(class)
	if _, err := tx.ExecContext(ctx, `INSERT INTO release_classes (key, subject) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
		key[:], class); err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	var classID int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM release_classes WHERE key = ?`, key[:]).Scan(&classID); err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	q := `UPDATE objects SET class = ? WHERE date_added IN (SELECT date_added FROM object_keys WHERE collection = ? AND id_key = ?) AND object_id = ?`
	args := []any{classID, coll, idKey(id), id}
	if !version.IsZero() {
		q += ` AND version = ?`
		args = append(args, version.UnixNano())
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("set class of %s: commit: %w", id, err)
	}
	s.rememberClasses(map[[32]byte]int64{key: classID})
	return int(n), nil
}
