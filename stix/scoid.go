package stix

import (
	"crypto/sha1"
	"fmt"
	"slices"
)

// scoNamespace is the UUIDv5 namespace STIX 2.1 defines for
// cyber-observable identifiers (section 2.9).
var scoNamespace = [16]byte{0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7}

// hashPreference is the order in which STIX picks the one hash that
// contributes to an identifier.
var hashPreference = []string{"MD5", "SHA-1", "SHA-256", "SHA-512"}

// DeterministicID returns the identifier STIX 2.1 prescribes for a
// cyber-observable: a UUIDv5 in the STIX namespace over the canonical JSON of
// its id-contributing properties. ok is false when the type has no
// contributing properties or the object carries none of them; such objects
// use a random (version 4) UUID.
func DeterministicID(v *Value) (id string, ok bool, err error) {
	tv, found := v.Get("type")
	if !found || tv.Kind != String {
		return "", false, fmt.Errorf("object has no type")
	}
	spec, known := types[tv.Str]
	if !known || spec.class != classSCO || len(spec.idContrib) == 0 {
		return "", false, nil
	}
	contrib := Value{Kind: Object}
	for _, name := range spec.idContrib {
		pv, found := v.Get(name)
		if !found {
			continue
		}
		if name == "hashes" && pv.Kind == Object {
			one, ok := chooseOneHash(pv)
			if !ok {
				continue
			}
			pv = one
		}
		contrib.Obj = append(contrib.Obj, Member{Key: name, Value: *pv})
	}
	if len(contrib.Obj) == 0 {
		return "", false, nil
	}
	name, err := AppendCanonical(nil, &contrib)
	if err != nil {
		return "", false, err
	}
	return tv.Str + "--" + uuidV5(scoNamespace, name), true, nil
}

func chooseOneHash(h *Value) (*Value, bool) {
	pick := -1
	for _, alg := range hashPreference {
		for i := range h.Obj {
			if h.Obj[i].Key == alg {
				pick = i
				break
			}
		}
		if pick >= 0 {
			break
		}
	}
	if pick < 0 {
		// No preferred algorithm: take the first name in sorted order so
		// every node picks the same one.
		keys := make([]string, 0, len(h.Obj))
		for _, m := range h.Obj {
			keys = append(keys, m.Key)
		}
		if len(keys) == 0 {
			return nil, false
		}
		first := slices.Min(keys)
		for i := range h.Obj {
			if h.Obj[i].Key == first {
				pick = i
			}
		}
	}
	return &Value{Kind: Object, Obj: []Member{h.Obj[pick]}}, true
}

// uuidV5 computes an RFC 4122 name-based (SHA-1) UUID.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return formatUUID(u)
}

func formatUUID(u [16]byte) string {
	const hex = "0123456789abcdef"
	buf := make([]byte, 36)
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j] = hex[b>>4]
		buf[j+1] = hex[b&0xf]
		j += 2
	}
	return string(buf)
}
