package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

var _ tearline.ReleaseStore = (*Store)(nil)

// classIDs interns the release classes of the added objects inside tx and
// returns their class ids in the order of added (0 for none), and the ids
// to remember once the transaction commits. The upsert returns the id
// whether this transaction or a concurrent replica created the row.
func (s *Store) classIDs(ctx context.Context, tx pgx.Tx, objs []*tearline.Object, added []int) ([]int64, map[[32]byte]int64, error) {
	ids := make([]int64, len(added))
	var pending map[[32]byte]int64
	for j, i := range added {
		o := objs[i]
		if len(o.ReleaseClass) == 0 {
			continue
		}
		key := sha256.Sum256(o.ReleaseClass)
		if id, ok := s.cachedClass(key); ok {
			ids[j] = id
			continue
		}
		if id, ok := pending[key]; ok {
			ids[j] = id
			continue
		}
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO release_classes (key, subject) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id`, key[:], o.ReleaseClass).Scan(&id); err != nil {
			return nil, nil, fmt.Errorf("release class: %w", err)
		}
		if pending == nil {
			pending = make(map[[32]byte]int64)
		}
		pending[key] = id
		ids[j] = id
	}
	return ids, pending, nil
}

func (s *Store) cachedClass(key [32]byte) (int64, bool) {
	s.classMu.RLock()
	defer s.classMu.RUnlock()
	id, ok := s.classes[key]
	return id, ok
}

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
	rows, err := s.pool.Query(ctx, q+` ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("release classes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tearline.ReleaseClass, error) {
		var c tearline.ReleaseClass
		var decided int64
		err := row.Scan(&c.ID, &c.Subject, &decided, &c.Objects)
		if decided != 0 {
			c.Decided = time.UnixMicro(decided).UTC()
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("release classes: %w", err)
	}
	return out, nil
}

// Releases lists every materialised decision, by class and partner.
func (s *Store) Releases(ctx context.Context) ([]tearline.ClassRelease, error) {
	rows, err := s.pool.Query(ctx, `SELECT class, partner, outcome, agreement, variant, consent_from, reasons
		FROM releases ORDER BY class, partner`)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanRelease)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	return out, nil
}

func scanRelease(row pgx.CollectableRow) (tearline.ClassRelease, error) {
	var r tearline.ClassRelease
	var outcome int16
	var consent, reasons string
	err := row.Scan(&r.Class, &r.Partner, &outcome, &r.Agreement, &r.Variant, &consent, &reasons)
	r.Outcome = tearline.Outcome(outcome)
	r.ConsentFrom, r.Reasons = splitList(consent), splitList(reasons)
	return r, err
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// ApplyReleases writes a change and its audit entry in one transaction.
func (s *Store) ApplyReleases(ctx context.Context, ch tearline.ReleaseChange) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	defer tx.Rollback(ctx)
	// Object writers lock the clock first, then the classes of what they
	// write (classIDs), then the outbox; this change locks the outbox, then
	// classes (decided). Taking the clock first too orders the two, which
	// otherwise deadlock when each holds what the other waits for.
	if _, err := tx.Exec(ctx, "SELECT FROM clock FOR UPDATE"); err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	if anyReleasable(ch.Set) { // federation outboxes: see outboxLock
		if err := lockOutbox(ctx, tx); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if len(ch.Set) > 0 {
		n := len(ch.Set)
		classes, partners, agreements, variants := make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		outcomes := make([]int16, n)
		consents, reasons := make([]string, n), make([]string, n)
		for i, r := range ch.Set {
			classes[i], partners[i], outcomes[i], agreements[i], variants[i] = r.Class, r.Partner, int16(r.Outcome), r.Agreement, r.Variant
			consents[i], reasons[i] = strings.Join(r.ConsentFrom, ","), strings.Join(r.Reasons, ",")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO releases (class, partner, outcome, agreement, variant, consent_from, reasons)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[])
			ON CONFLICT (class, partner) DO UPDATE SET outcome = excluded.outcome, agreement = excluded.agreement,
				variant = excluded.variant, consent_from = excluded.consent_from, reasons = excluded.reasons`,
			classes, partners, outcomes, agreements, variants, consents, reasons); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if len(ch.Remove) > 0 {
		classes, partners := make([]int64, len(ch.Remove)), make([]string, len(ch.Remove))
		for i, r := range ch.Remove {
			classes[i], partners[i] = r.Class, r.Partner
		}
		if _, err := tx.Exec(ctx, `DELETE FROM releases r USING unnest($1::bigint[], $2::text[]) AS d(class, partner)
			WHERE r.class = d.class AND r.partner = d.partner`, classes, partners); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if err := enqueueReleased(ctx, tx, ch.Set); err != nil {
		return fmt.Errorf("apply releases: %w", err)
	}
	if len(ch.Decided) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE release_classes SET decided = $1 WHERE id = ANY($2)`, ch.Time.UnixMicro(), ch.Decided); err != nil {
			return fmt.Errorf("apply releases: %w", err)
		}
	}
	if len(ch.Set) > 0 || len(ch.Remove) > 0 {
		if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, ledger.ReleaseEvent(ch)); err != nil {
			return fmt.Errorf("apply releases: audit log: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply releases: commit: %w", err)
	}
	return nil
}

// ReleaseOf returns the class of an object version (the newest when
// version is zero) and the class's releases.
func (s *Store) ReleaseOf(ctx context.Context, collection, id string, version time.Time) (int64, []tearline.ClassRelease, error) {
	num, err := collectionNum(ctx, s.pool, collection)
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	q := `SELECT class FROM objects WHERE collection = $1 AND id = $2`
	args := []any{num, id}
	if !version.IsZero() {
		q += ` AND version = $3`
		args = append(args, version.UnixNano())
	}
	var class int64
	err = s.pool.QueryRow(ctx, q+` ORDER BY version DESC LIMIT 1`, args...).Scan(&class)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("release of %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT class, partner, outcome, agreement, variant, consent_from, reasons
		FROM releases WHERE class = $1 ORDER BY partner`, class)
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	rs, err := pgx.CollectRows(rows, scanRelease)
	if err != nil {
		return 0, nil, fmt.Errorf("release of %s: %w", id, err)
	}
	return class, rs, nil
}

// ReleaseSubjects returns the subjects of the classes ids.
func (s *Store) ReleaseSubjects(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, subject FROM release_classes WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("release subjects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var subject []byte
		if err := rows.Scan(&id, &subject); err != nil {
			return nil, fmt.Errorf("release subjects: %w", err)
		}
		out[id] = subject
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("release subjects: %w", err)
	}
	return out, nil
}
