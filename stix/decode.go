package stix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxObjectSize bounds one object's JSON text. An object above the
// limit is rejected on its own; the objects around it are still read.
const DefaultMaxObjectSize = 16 << 20

// Decoder reads STIX objects one at a time from a stream that holds any
// sequence of bundles and bare objects: a single bundle, a single object, or
// JSON lines (one object or bundle per line). It never holds more than one
// object in memory, so inputs of any size stream through.
type Decoder struct {
	r       *bufio.Reader
	offset  int64 // bytes consumed, for error messages
	index   int   // objects returned so far
	maxSize int

	inBundle   bool // inside the objects list of a bundle
	stopAtMax  bool // readRaw stops at the limit instead of skipping
	streamOnly bool // never take a top-level value whole (see next)
	top        []byte
	sub        *Decoder // reads a bundle held in memory
	subStart   int64
	bundle     bundleState
	afterFirst bool // an element of the current objects list was read
	err        error
}

type bundleState struct {
	start     int64
	typ       string
	id        string
	sawType   bool
	sawID     bool
	sawObject bool
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 256<<10), maxSize: DefaultMaxObjectSize}
}

// SetMaxObjectSize changes the per-object size limit.
func (d *Decoder) SetMaxObjectSize(n int) { d.maxSize = n }

// InputError reports that the input's structure is broken (not a single
// object): reading cannot continue past it. Objects returned before it are
// valid reads.
type InputError struct {
	Offset int64
	Msg    string
}

func (e *InputError) Error() string { return fmt.Sprintf("input at byte %d: %s", e.Offset, e.Msg) }

// Next returns the JSON text of the next object and its index in the input.
// It returns io.EOF at the end of the input, an *ObjectError for an object
// that is rejected on its own (reading may continue), and an *InputError
// when the input cannot be read further. The returned slice is only valid
// until the next call.
func (d *Decoder) Next() ([]byte, int, error) {
	if d.err != nil {
		return nil, 0, d.err
	}
	raw, err := d.next()
	if err != nil {
		var oe *ObjectError
		if errors.As(err, &oe) {
			return nil, oe.Index, err
		}
		if err != io.EOF {
			var ie *InputError
			if !errors.As(err, &ie) {
				err = &InputError{Offset: d.offset, Msg: err.Error()}
			}
		}
		d.err = err
		return nil, 0, err
	}
	i := d.index
	d.index++
	return raw, i, nil
}

var errTooLarge = errors.New("too large")

func (d *Decoder) next() ([]byte, error) {
	for {
		if d.sub != nil {
			raw, _, err := d.sub.Next()
			switch {
			case err == nil:
				return raw, nil
			case err == io.EOF:
				d.sub = nil
				continue
			}
			var oe *ObjectError
			if errors.As(err, &oe) {
				oe.Index = d.index
				d.index++
				return nil, oe
			}
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, &InputError{Offset: d.subStart + ie.Offset, Msg: ie.Msg}
			}
			return nil, err
		}
		if d.inBundle {
			raw, ok, err := d.nextInList()
			if err != nil {
				return nil, err
			}
			if ok {
				return raw, nil
			}
			// The objects list ended; finish the bundle's other members.
			d.inBundle = false
			if err := d.finishBundle(); err != nil {
				return nil, err
			}
			continue
		}
		c, err := d.peekNonSpace()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		if c != '{' {
			return nil, &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected a STIX bundle or object ('{'), found %q", c)}
		}
		if !d.streamOnly {
			// Fast path: take the whole value, then look at its type. A
			// bare object (a line of JSON lines, say) is returned as is;
			// a bundle is read element by element from memory, and one
			// too large to hold is streamed from where it began.
			start := d.offset
			buf, err := d.readRawStop(d.top[:0], d.maxSize)
			d.top = buf[:0]
			switch {
			case err != nil:
				// Too large to hold, or broken: read it again streaming,
				// which returns the complete objects it holds before
				// reporting where it breaks.
				d.replay(buf, start)
			default:
				if typ, _ := topLevelString(buf, "type"); typ != "bundle" {
					return buf, nil
				}
				d.sub = NewDecoder(bytes.NewReader(buf))
				d.sub.maxSize = d.maxSize
				d.sub.streamOnly = true
				d.subStart = start
				d.top = nil // the sub-decoder owns buf now
				continue
			}
		}
		raw, isBundle, err := d.topLevel()
		if err != nil {
			return nil, err
		}
		if isBundle {
			continue
		}
		return raw, nil
	}
}

// topLevel reads a top-level object. A bundle is detected by its objects
// list, which is then streamed element by element; anything else is returned
// whole as one object.
func (d *Decoder) topLevel() ([]byte, bool, error) {
	start := d.offset
	d.readByte() // {
	tee := append(make([]byte, 0, 1024), '{')
	d.bundle = bundleState{start: start}
	// tooLarge is set once the object outgrows the limit: its remaining
	// members are read to find its end (or its objects list, if it is a
	// bundle) without being kept.
	tooLarge := false
	first := true
	for {
		c, err := d.peekNonSpace()
		if err != nil {
			return nil, false, d.eofIsError(err, "object not closed")
		}
		if c == '}' && first {
			d.readByte()
			return append(tee, '}'), false, nil
		}
		if !first {
			if c == '}' {
				d.readByte()
				tee = append(tee, '}')
				if d.bundle.sawObject {
					return nil, true, d.checkBundle()
				}
				if tooLarge || len(tee) > d.maxSize {
					oe := &ObjectError{Index: d.index, Problems: []Problem{{Rule: "object-too-large", Path: "$",
						Msg: fmt.Sprintf("object at byte %d is larger than the %d-byte limit", start, d.maxSize)}}}
					d.index++
					return nil, false, oe
				}
				return tee, false, nil
			}
			if c != ',' {
				return nil, false, &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected ',' or '}' after a member, found %q", c)}
			}
			d.readByte()
			tee = append(tee, ',')
			if _, err := d.peekNonSpace(); err != nil {
				return nil, false, d.eofIsError(err, "object not closed")
			}
		}
		first = false
		if tooLarge {
			tee = tee[:0] // keep only the member being read
		}
		keyStart := len(tee)
		tee, err = d.readRaw(tee, d.maxSize)
		if err != nil {
			return nil, false, d.rawError(err, start)
		}
		key, err := decodeString(tee[keyStart:])
		if err != nil {
			return nil, false, &InputError{Offset: d.offset, Msg: "member name: " + err.Error()}
		}
		c, err = d.peekNonSpace()
		if err != nil || c != ':' {
			return nil, false, &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected ':' after member name %q", key)}
		}
		d.readByte()
		tee = append(tee, ':')
		c, err = d.peekNonSpace()
		if err != nil {
			return nil, false, d.eofIsError(err, "member value missing")
		}
		if key == "objects" && c == '[' && !(d.bundle.sawType && d.bundle.typ != "bundle") {
			d.readByte()
			d.bundle.sawObject = true
			d.inBundle = true
			d.afterFirst = false
			return nil, true, nil
		}
		valStart := len(tee)
		budget := max(d.maxSize-len(tee), 0) // what is left for the object
		if tooLarge {
			budget = 0 // skip the value without copying it
			if key == "type" || key == "id" {
				budget = d.maxSize
			}
		}
		tee, err = d.readRaw(tee, budget)
		if err == errTooLarge {
			tooLarge, err = true, nil
		}
		if err != nil {
			return nil, false, d.rawError(err, start)
		}
		switch key {
		case "type":
			d.bundle.sawType = true
			d.bundle.typ, _ = decodeString(tee[valStart:])
		case "id":
			d.bundle.sawID = true
			d.bundle.id, _ = decodeString(tee[valStart:])
		}
	}
}

// finishBundle reads the members after a bundle's objects list.
func (d *Decoder) finishBundle() error {
	for {
		c, err := d.peekNonSpace()
		if err != nil {
			return d.eofIsError(err, "bundle not closed")
		}
		switch c {
		case '}':
			d.readByte()
			return d.checkBundle()
		case ',':
			d.readByte()
		default:
			return &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected ',' or '}' in bundle, found %q", c)}
		}
		if _, err := d.peekNonSpace(); err != nil {
			return d.eofIsError(err, "bundle not closed")
		}
		key, err := d.readRaw(nil, 1<<16)
		if err != nil {
			return d.rawError(err, d.bundle.start)
		}
		name, err := decodeString(key)
		if err != nil {
			return &InputError{Offset: d.offset, Msg: "member name: " + err.Error()}
		}
		if c, err := d.peekNonSpace(); err != nil || c != ':' {
			return &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected ':' after member name %q", name)}
		}
		d.readByte()
		if _, err := d.peekNonSpace(); err != nil {
			return d.eofIsError(err, "member value missing")
		}
		val, err := d.readRaw(nil, 1<<20)
		if err != nil {
			return d.rawError(err, d.bundle.start)
		}
		switch name {
		case "type":
			d.bundle.sawType = true
			d.bundle.typ, _ = decodeString(val)
		case "id":
			d.bundle.sawID = true
			d.bundle.id, _ = decodeString(val)
		case "objects":
			return &InputError{Offset: d.offset, Msg: "bundle has two objects lists"}
		}
	}
}

func (d *Decoder) checkBundle() error {
	b := d.bundle
	if !b.sawType || b.typ != "bundle" {
		return &InputError{Offset: b.start, Msg: fmt.Sprintf("top-level object with an objects list has type %q, not \"bundle\"", b.typ)}
	}
	if b.sawID {
		c := &checker{}
		if typ, ok := checkIdentifier(c, "$.id", b.id); ok && typ != "bundle" {
			return &InputError{Offset: b.start, Msg: fmt.Sprintf("bundle id %q must start with bundle--", b.id)}
		} else if !ok {
			return &InputError{Offset: b.start, Msg: "bundle id: " + c.problems[0].Msg}
		}
	}
	return nil
}

// nextInList reads the next element of a bundle's objects list; ok is false
// at the list's end.
func (d *Decoder) nextInList() ([]byte, bool, error) {
	c, err := d.peekNonSpace()
	if err != nil {
		return nil, false, d.eofIsError(err, "objects list not closed")
	}
	if c == ']' {
		d.readByte()
		return nil, false, nil
	}
	if d.afterFirst {
		if c != ',' {
			return nil, false, &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected ',' or ']' in the objects list, found %q", c)}
		}
		d.readByte()
		if c, err = d.peekNonSpace(); err != nil {
			return nil, false, d.eofIsError(err, "objects list not closed")
		}
	}
	d.afterFirst = true
	if c != '{' {
		// Skip the element so the objects after it are still read.
		start := d.offset
		if _, err := d.readRaw(nil, 0); err != nil && err != errTooLarge {
			return nil, false, d.rawError(err, start)
		}
		oe := &ObjectError{Index: d.index, Problems: []Problem{{Rule: "object-type", Path: "$",
			Msg: fmt.Sprintf("bundle element at byte %d is not a JSON object", start)}}}
		d.index++
		return nil, false, oe
	}
	start := d.offset
	raw, err := d.readRaw(make([]byte, 0, 2048), d.maxSize)
	if err == errTooLarge {
		oe := &ObjectError{Index: d.index, Problems: []Problem{{Rule: "object-too-large", Path: "$",
			Msg: fmt.Sprintf("object at byte %d is larger than the %d-byte limit", start, d.maxSize)}}}
		d.index++
		return nil, false, oe
	}
	if err != nil {
		return nil, false, d.rawError(err, start)
	}
	return raw, true, nil
}

func (d *Decoder) eofIsError(err error, msg string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &InputError{Offset: d.offset, Msg: "unexpected end of input: " + msg}
	}
	return err
}

func (d *Decoder) rawError(err error, start int64) error {
	if err == errTooLarge {
		return &InputError{Offset: start, Msg: fmt.Sprintf("value larger than the %d-byte limit", d.maxSize)}
	}
	return d.eofIsError(err, "value not complete")
}

func (d *Decoder) readByte() {
	d.r.ReadByte()
	d.offset++
}

// peekNonSpace skips whitespace and returns the next byte without
// consuming it.
func (d *Decoder) peekNonSpace() (byte, error) {
	for {
		b, err := d.r.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\n', '\r':
			d.readByte()
		default:
			return b[0], nil
		}
	}
}

// readRaw appends the text of one JSON value to dst, tracking strings and
// nesting only far enough to find where it ends; ParseJSON checks it fully
// later. Past max bytes (0: no copy at all) it keeps reading to the value's
// end without storing and returns errTooLarge.
func (d *Decoder) readRaw(dst []byte, max int) ([]byte, error) {
	depth := 0
	inString := false
	escaped := false
	base := len(dst)
	tooLarge := max == 0
	// read counts the bytes of the value consumed so far. It, not
	// len(dst), says whether a value has started: past the limit nothing
	// is copied, and a scalar may arrive split across reads.
	read := 0
	for {
		if _, err := d.r.Peek(1); err != nil {
			if err == io.EOF && depth == 0 && !inString && read > 0 {
				return dst, nil // a scalar at the very end
			}
			return dst, err
		}
		// Consume as much as is buffered in one go.
		n := d.r.Buffered()
		chunk, _ := d.r.Peek(n)
		end := -1
		for i, c := range chunk {
			if inString {
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						end = i
					}
				}
				if end >= 0 {
					break
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth > 0 {
					depth--
					if depth == 0 {
						end = i
					}
					break
				}
				fallthrough
			case ',', ':', ' ', '\t', '\n', '\r':
				if depth == 0 {
					// End of a scalar value, not part of it.
					if i == 0 && read == 0 {
						return dst, &InputError{Offset: d.offset, Msg: fmt.Sprintf("expected a value, found %q", c)}
					}
					if !tooLarge {
						dst = append(dst, chunk[:i]...)
					}
					d.r.Discard(i)
					d.offset += int64(i)
					if tooLarge {
						return dst, errTooLarge
					}
					return dst, nil
				}
			}
			if end >= 0 {
				break
			}
		}
		take := len(chunk)
		if end >= 0 {
			take = end + 1
		}
		if !tooLarge {
			if len(dst)-base+take > max {
				if d.stopAtMax {
					dst = append(dst, chunk[:take]...)
					d.r.Discard(take)
					d.offset += int64(take)
					return dst, errTooLarge
				}
				tooLarge = true
			} else {
				dst = append(dst, chunk[:take]...)
			}
		}
		d.r.Discard(take)
		d.offset += int64(take)
		read += take
		if end >= 0 {
			if tooLarge {
				return dst, errTooLarge
			}
			return dst, nil
		}
	}
}

// readRawStop is readRaw that stops at the limit: past max bytes it returns
// errTooLarge with everything consumed so far in dst, so that the caller can
// read the value again another way (see replay).
func (d *Decoder) readRawStop(dst []byte, max int) ([]byte, error) {
	d.stopAtMax = true
	defer func() { d.stopAtMax = false }()
	return d.readRaw(dst, max)
}

// replay makes the bytes already consumed, consumed, read again before the
// rest of the input.
func (d *Decoder) replay(consumed []byte, start int64) {
	prefix := bytes.Clone(consumed)
	d.r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(prefix), d.r), 256<<10)
	d.offset = start
}

// topLevelString returns the string value of the member called name at the
// top level of the JSON object text raw. It reads no more than it must and
// reports false on anything unexpected; the full parse comes later.
func topLevelString(raw []byte, name string) (string, bool) {
	i := 1
	skip := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	// str returns the end (exclusive) of the string starting at i.
	str := func(i int) int {
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	}
	for {
		skip()
		if i >= len(raw) || raw[i] != '"' {
			return "", false
		}
		end := str(i)
		if end < 0 {
			return "", false
		}
		key, err := decodeString(raw[i:end])
		if err != nil {
			return "", false
		}
		i = end
		skip()
		if i >= len(raw) || raw[i] != ':' {
			return "", false
		}
		i++
		skip()
		if i >= len(raw) {
			return "", false
		}
		if key == name {
			if raw[i] != '"' {
				return "", false
			}
			end := str(i)
			if end < 0 {
				return "", false
			}
			v, err := decodeString(raw[i:end])
			return v, err == nil
		}
		// Skip the value: a string, a nested object or list, or a scalar
		// that runs to the next comma or brace.
		depth := 0
	value:
		for i < len(raw) {
			switch c := raw[i]; {
			case c == '"':
				end := str(i)
				if end < 0 {
					return "", false
				}
				i = end
				if depth == 0 {
					break value
				}
				continue
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				if depth == 0 {
					break value
				}
				depth--
				if depth == 0 {
					i++
					break value
				}
			case c == ',' && depth == 0:
				break value
			}
			i++
		}
		skip()
		if i >= len(raw) || raw[i] != ',' {
			return "", false
		}
		i++
	}
}

// decodeString decodes the text of a JSON string value into a string of
// its own: the decoder reuses the buffers it reads into.
func decodeString(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	p := parser{data: raw}
	s, err := p.string()
	return strings.Clone(s), err
}
