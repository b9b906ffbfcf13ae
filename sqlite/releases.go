package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

var _ tearline.ReleaseStore = (*Store)(nil)

// classIDs interns the release classes of objs inside tx and returns each
// object's class id (0 when it has none), and the ids this transaction
// created, to be remembered once it commits.
func (s *Store) classIDs(ctx context.Context, tx *sql.Tx, objs []*tearline.Object, keys [][32]byte) ([]int64, map[[32]byte]int64, error) {
	ids := make([]int64, len(objs))
	var pending map[[32]byte]int64
	for i, o := range objs {
		if len(o.ReleaseClass) == 0 {
			continue
		}
		key := keys[i]
		if id, ok := s.cachedClass(key); ok {
			ids[i] = id
			continue
		}
		if id, ok := pending[key]; ok {
			ids[i] = id
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO release_classes (key, subject) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			key[:], o.ReleaseClass); err != nil {
			return nil, nil, fmt.Errorf("release class: %w", err)
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM release_classes WHERE key = ?`, key[:]).Scan(&id); err != nil {
			return nil, nil, fmt.Errorf("release class: %w", err)
		}
		if pending == nil {
			pending = make(map[[32]byte]int64)
		}
		pending[key] = id
		ids[i] = id
	}
	return ids, pending, nil
}

// classKeys returns the key of each object's release class (see
// classIDs), zero for an object without one. A batch holds few classes:
// each is hashed once.
func classKeys(objs []*tearline.Object) [][32]byte {
	keys := make([][32]byte, len(objs))
	seen := make(map[string][32]byte)
	for i, o := range objs {
		if len(o.ReleaseClass) == 0 {
			continue
		}
		key, ok := seen[string(o.ReleaseClass)]
		if !ok {
			key = sha256.Sum256(o.ReleaseClass)
			seen[string(o.ReleaseClass)] = key
		}
		keys[i] = key
	}
	return keys
}

func (s *Store) cachedClass(key [32]byte) (int64, bool) {
	s.classMu.RLock()
	defer s.classMu.RUnlock()
	id, ok := s.classes[key]
	return id, ok
}

// rememberClasses caches class ids once the transaction that created or
// found them has committed; a rolled-back id is never cached.
func (s *Store) rememberClasses(ids map[[32]byte]int64) {
	if len(ids) == 0 {
		return
	}
	s.classMu.Lock()
	defer s.classMu.Unlock()
	if s.classes == nil {
		s.classes = make(map[[32]byte]int64)
	}
	for k, v := range ids {
		s.classes[k] = v
	}
}

// ReleaseClasses lists the classes that hold object versions.
func (s *Store) ReleaseClasses(ctx context.Context, undecided bool) ([]tearline.ReleaseClass, error) {
	q := `SELECT c.id, c.subject, c.decided, n.objects
		FROM (SELECT class, count(*) AS objects FROM objects WHERE class <> 0 GROUP BY class) n
		JOIN release_classes c ON c.id = n.class`
	if undecided {
		q += ` WHERE c.decided = 0`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("release classes: %w", err)
	}
	defer rows.Close()
	var out []tearline.ReleaseClass
	for rows.Next() {
		var c tearline.ReleaseClass
		var decided int64
		if err := rows.Scan(&c.ID, &c.Subject, &decided, &c.Objects); err != nil {
			return nil, fmt.Errorf("release classes: %w", err)
		}
		if decided != 0 {
			c.Decided = time.UnixMicro(decided).UTC()
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("release classes: %w", err)
	}
	return out, nil
}

// Releases lists every materialised decision, by class and partner.
func (s *Store) Releases(ctx context.Context) ([]tearline.ClassRelease, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT class, partner, outcome, agreement, variant, consent_from, reasons
		FROM releases ORDER BY class, partner`)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	return scanReleases(rows)
}

func scanReleases(rows *sql.Rows) ([]tearline.ClassRelease, error) {
	defer rows.Close()
	var out []tearline.ClassRelease
	for rows.Next() {
		var r tearline.ClassRelease
		var consent, reasons string
		if err := rows.Scan(&r.Class, &r.Partner, &r.Outcome, &r.Agreement, &r.Variant, &consent, &reasons); err != nil {
			return nil, fmt.Errorf("releases: %w", err)
		}
		r.ConsentFrom, r.Reasons = splitList(consent), splitList(reasons)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	return out, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ApplyReleases writes a change and its audit entry in one transaction.
func (s *Store) ApplyReleases(ctx context.Context, ch tearline.ReleaseChange) error {
	if s.readOnly {
		return errors.New("apply releases: the store is open read-only")
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	defer done()
	set, err := tx.PrepareContext(ctx, `INSERT INTO releases (class, partner, outcome, agreement, variant, consent_from, reasons)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (class, partner) DO UPDATE SET outcome = excluded.outcome, agreement = excluded.agreement,
			variant = excluded.variant, consent_from = excluded.consent_from, reasons = excluded.reasons`)
	if err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	defer set.Close()
	for _, r := range ch.Set {
		if _, err := set.ExecContext(ctx, r.Class, r.Partner, int(r.Outcome), r.Agreement, r.Variant,
			strings.Join(r.ConsentFrom, ","), strings.Join(r.Reasons, ",")); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM releases WHERE class = ? AND partner = ?`)
	if err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	defer del.Close()
	for _, r := range ch.Remove {
		if _, err := del.ExecContext(ctx, r.Class, r.Partner); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if err := enqueueReleased(ctx, tx, ch.Set); err != nil { // federation outboxes
		return fmt.Errorf("apply releases: %w", err)
	}
	decided, err := tx.PrepareContext(ctx, `UPDATE release_classes SET decided = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	defer decided.Close()
	at := ch.Time.UnixMicro()
	for _, id := range ch.Decided {
		if _, err := decided.ExecContext(ctx, at, id); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if len(ch.Set) > 0 || len(ch.Remove) > 0 {
		if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, ledger.ReleaseEvent(ch)); err != nil {
			return fmt.Errorf("apply releases: audit log: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply releases: commit: %w", err)
	}
	return nil
}

// ReleaseOf returns the class of an object version (the newest when
// version is zero) and the class's releases.
func (s *Store) ReleaseOf(ctx context.Context, collection, id string, version time.Time) (int64, []tearline.ClassRelease, error) {
	coll, _, err := s.collection(ctx, s.db, collection)
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	q := `SELECT class FROM objects WHERE date_added IN (SELECT date_added FROM object_keys WHERE collection = ? AND id_key = ?) AND object_id = ?`
	args := []any{coll, idKey(id), id}
	if !version.IsZero() {
		q += ` AND version = ?`
		args = append(args, version.UnixNano())
	}
	var class int64
	err = s.db.QueryRowContext(ctx, q+` ORDER BY version DESC LIMIT 1`, args...).Scan(&class)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("release of %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT class, partner, outcome, agreement, variant, consent_from, reasons
		FROM releases WHERE class = ? ORDER BY partner`, class)
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	rs, err := scanReleases(rows)
	return class, rs, err
}

// ReleaseSubjects returns the subjects of the classes ids.
func (s *Store) ReleaseSubjects(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT id, subject FROM release_classes WHERE id IN (?`+strings.Repeat(`, ?`, len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("release subjects: %w", err)
		}
		for rows.Next() {
			var id int64
			var subject []byte
			if err := rows.Scan(&id, &subject); err != nil {
				rows.Close()
				return nil, fmt.Errorf("release subjects: %w", err)
			}
			out[id] = subject
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("release subjects: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("release subjects: %w", err)
		}
	}
	return out, nil
}
