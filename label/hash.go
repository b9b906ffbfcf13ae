package label

import (
	"crypto/sha256"

	"github.com/tearline/tearline"
)

// hashContext separates label hashes from every other hash Tearline takes.
const hashContext = "tearline-label/1\x00"

// Hash is the hash that binds a label to content (envelope leaves, in the
// spirit of STANAG 4778): SHA-256 over a context string and the label's
// canonical banner. Format(Normalize(l)) is canonical, and Parse reads it
// back to the same label, so two nodes that hold the same label compute the
// same hash whatever the order in which its markings were written.
func Hash(l tearline.Label) [32]byte {
	return sha256.Sum256([]byte(hashContext + Format(Normalize(l))))
}
