package analytics

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// u128 is an address as a 128-bit big-endian number; IPv4 addresses sit
// in the top 32 bits, so one trie implementation serves both families.
type u128 struct{ hi, lo uint64 }

func prefixKey(p netip.Prefix) (u128, uint8) {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		return u128{hi: uint64(binary.BigEndian.Uint32(b[:])) << 32}, uint8(p.Bits())
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, uint8(p.Bits())
}

// bit returns bit i (0 is the most significant).
func (a u128) bit(i uint8) int {
	if i < 64 {
		return int(a.hi>>(63-i)) & 1
	}
	return int(a.lo>>(127-i)) & 1
}

// commonBits returns how many leading bits a and b share.
func commonBits(a, b u128) uint8 {
	if x := a.hi ^ b.hi; x != 0 {
		return uint8(bits.LeadingZeros64(x))
	}
	return uint8(64 + bits.LeadingZeros64(a.lo^b.lo))
}

// mask keeps the first n bits.
func (a u128) mask(n uint8) u128 {
	switch {
	case n >= 128:
		return a
	case n >= 64:
		return u128{a.hi, a.lo &^ (^uint64(0) >> (n - 64))}
	default:
		return u128{a.hi &^ (^uint64(0) >> n), 0}
	}
}

// trie is a path-compressed binary trie of CIDR prefixes (a PATRICIA
// trie): every node is a prefix, a node's subtree holds the prefixes it
// contains, and a node exists only if it holds a value or joins two
// subtrees, so n prefixes take at most 2n-1 nodes. Finding every stored
// prefix that contains an address, or that a prefix contains, walks one
// path of at most 33 (IPv4) or 129 (IPv6) nodes, plus the subtree of
// contained prefixes when those are asked for.
//
// Nodes live in a slice and refer to each other by index, which keeps them
// small (32 bytes) and out of the garbage collector's pointer scans.
type trie struct {
	nodes []tnode // nodes[0] is unused: index 0 means "none"
	free  []uint32
	root  uint32
}

type tnode struct {
	key   u128 // masked to bits
	bits  uint8
	child [2]uint32
	val   uint32 // value id, 0 for a node that only joins two subtrees
}

func (t *trie) alloc(key u128, n uint8, val uint32) uint32 {
	nd := tnode{key: key, bits: n, val: val}
	if k := len(t.free); k > 0 {
		id := t.free[k-1]
		t.free = t.free[:k-1]
		t.nodes[id] = nd
		return id
	}
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, tnode{})
	}
	t.nodes = append(t.nodes, nd)
	return uint32(len(t.nodes) - 1)
}

func (t *trie) release(id uint32) {
	t.nodes[id] = tnode{}
	t.free = append(t.free, id)
}

// link sets the reference from parent's side (or the root) to id.
func (t *trie) link(parent uint32, side int, id uint32) {
	if parent == 0 {
		t.root = id
	} else {
		t.nodes[parent].child[side] = id
	}
}

// find returns the value id stored for exactly key/n, or 0.
func (t *trie) find(key u128, n uint8) uint32 {
	id := t.root
	for id != 0 {
		nd := &t.nodes[id]
		if nd.bits > n || commonBits(key, nd.key) < nd.bits {
			return 0
		}
		if nd.bits == n {
			return nd.val
		}
		id = nd.child[key.bit(nd.bits)]
	}
	return 0
}

// insert stores val for key/n and returns val, or returns the value
// already stored there and changes nothing: one walk serves both the
// lookup and the insertion of a new value.
func (t *trie) insert(key u128, n uint8, val uint32) uint32 {
	key = key.mask(n)
	var parent uint32
	side := 0
	id := t.root
	for id != 0 {
		nd := t.nodes[id]
		c := min(commonBits(key, nd.key), n, nd.bits)
		if c == nd.bits {
			if nd.bits == n {
				if nd.val != 0 {
					return nd.val
				}
				t.nodes[id].val = val
				return val
			}
			b := key.bit(nd.bits)
			if nd.child[b] == 0 {
				leaf := t.alloc(key, n, val)
				t.nodes[id].child[b] = leaf
				return val
			}
			parent, side, id = id, b, nd.child[b]
			continue
		}
		// The new prefix and nd part ways at bit c, or the new prefix
		// contains nd (c == n).
		if c == n {
			nn := t.alloc(key, n, val)
			t.nodes[nn].child[nd.key.bit(n)] = id
			t.link(parent, side, nn)
			return val
		}
		glue := t.alloc(key.mask(c), c, 0)
		leaf := t.alloc(key, n, val)
		t.nodes[glue].child[key.bit(c)] = leaf
		t.nodes[glue].child[nd.key.bit(c)] = id
		t.link(parent, side, glue)
		return val
	}
	t.link(parent, side, t.alloc(key, n, val))
	return val
}

// remove clears the value of key/n and drops the nodes that no longer
// hold a value or join two subtrees.
func (t *trie) remove(key u128, n uint8) {
	key = key.mask(n)
	var parent, grand uint32
	side, grandSide := 0, 0
	id := t.root
	for id != 0 {
		nd := &t.nodes[id]
		if nd.bits > n || commonBits(key, nd.key) < nd.bits {
			return
		}
		if nd.bits == n {
			break
		}
		grand, grandSide = parent, side
		parent, side = id, key.bit(nd.bits)
		id = nd.child[side]
	}
	if id == 0 || t.nodes[id].val == 0 {
		return
	}
	nd := &t.nodes[id]
	nd.val = 0
	switch {
	case nd.child[0] != 0 && nd.child[1] != 0:
		return // still joins two subtrees
	case nd.child[0] != 0 || nd.child[1] != 0:
		t.link(parent, side, nd.child[0]|nd.child[1])
		t.release(id)
		return
	}
	t.link(parent, side, 0)
	t.release(id)
	if parent == 0 {
		return
	}
	p := &t.nodes[parent]
	if p.val == 0 {
		// A joining node left with one subtree is no longer needed.
		t.link(grand, grandSide, p.child[0]|p.child[1])
		t.release(parent)
	}
}

// hit is a stored value found by a lookup, with how it matched.
type hit struct {
	val  uint32
	kind MatchKind
}

// lookup appends the stored prefixes that match key/n: the exact prefix
// (MatchExact) and, when cidr is set, every stored prefix that contains
// it or that it contains (MatchCIDR). Containing prefixes come first,
// shortest first.
func (t *trie) lookup(dst []hit, key u128, n uint8, exact, cidr bool) []hit {
	key = key.mask(n)
	id := t.root
	for id != 0 {
		nd := &t.nodes[id]
		if nd.bits > n {
			// nd is inside the query if it agrees on the query's bits.
			if cidr && commonBits(key, nd.key) >= n {
				dst = t.subtree(dst, id)
			}
			return dst
		}
		if commonBits(key, nd.key) < nd.bits {
			return dst
		}
		if nd.bits == n {
			if nd.val != 0 && exact {
				dst = append(dst, hit{nd.val, MatchExact})
			}
			if cidr {
				for _, c := range nd.child {
					if c != 0 {
						dst = t.subtree(dst, c)
					}
				}
			}
			return dst
		}
		if nd.val != 0 && cidr {
			dst = append(dst, hit{nd.val, MatchCIDR})
		}
		id = nd.child[key.bit(nd.bits)]
	}
	return dst
}

// subtree appends every value in the subtree rooted at id, in key order.
func (t *trie) subtree(dst []hit, id uint32) []hit {
	var stack [130]uint32 // the trie is at most 129 levels deep
	stack[0] = id
	sp := 1
	for sp > 0 {
		sp--
		nd := &t.nodes[stack[sp]]
		if nd.val != 0 {
			dst = append(dst, hit{nd.val, MatchCIDR})
		}
		if c := nd.child[1]; c != 0 {
			stack[sp] = c
			sp++
		}
		if c := nd.child[0]; c != 0 {
			stack[sp] = c
			sp++
		}
	}
	return dst
}

func (t *trie) size() int {
	if len(t.nodes) == 0 {
		return 0
	}
	return len(t.nodes) - 1 - len(t.free)
}
