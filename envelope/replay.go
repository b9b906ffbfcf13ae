package envelope

import (
	"fmt"
	"sync"
)

// ReplayGuard remembers, per stream from a sender to a recipient, the last
// sequence number accepted.
//
// Seen MUST return an error wrapping ErrReplay, and record nothing, when seq
// is not greater than the last sequence number it accepted for the stream;
// otherwise it records seq as the stream's last and returns nil. Any other
// error refuses the envelope too. Open calls Seen last, only for an envelope
// that passed every other check, so a forged envelope cannot advance a
// stream. A guard backed by the node's database should record seq in the
// same transaction that stores the batch, so that a crash between the two
// neither loses a batch nor lets it in twice.
type ReplayGuard interface {
	Seen(sender, recipient string, seq uint64) error
}

// MemoryReplayGuard is a ReplayGuard held in memory, for tests and for
// nodes that keep the streams' positions elsewhere. It is safe for
// concurrent use. The zero value is ready to use.
type MemoryReplayGuard struct {
	mu   sync.Mutex
	last map[[2]string]uint64
}

var _ ReplayGuard = (*MemoryReplayGuard)(nil)

// Seen accepts seq if it is greater than the last accepted for the stream
// (any seq, 0 included, starts a stream) and records it.
func (g *MemoryReplayGuard) Seen(sender, recipient string, seq uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := [2]string{sender, recipient}
	if last, ok := g.last[k]; ok && seq <= last {
		return fmt.Errorf("%w: %s to %s: sequence %d, last accepted %d", ErrReplay, sender, recipient, seq, last)
	}
	if g.last == nil {
		g.last = make(map[[2]string]uint64)
	}
	g.last[k] = seq
	return nil
}
