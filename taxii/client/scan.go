package client

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tearline/tearline/internal/jsonscan"
)

// kind names the JSON type of the value starting with c.
func kind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "list"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// parseEnvelope reads an envelope resource in one pass (jsonscan), the
// objects handed out as slices of body. It reads what encoding/json reads
// into the struct {More bool; Next string; Objects []json.RawMessage},
// with the same result (FuzzParseEnvelope holds it to that): keys matched
// without regard to case, the last of a repeated key winning, null leaving
// a field as it is (objects: nil).
func parseEnvelope(body []byte) (*Envelope, error) {
	s := jsonscan.New(body)
	s.WS()
	if c, ok := s.Peek(); !ok || c != '{' {
		return nil, fmt.Errorf("the body is not a JSON object (want an envelope resource)")
	}
	env := &Envelope{}
	// encoding/json reads on past a value of the wrong type and reports
	// the first such error at the end; so does this.
	var typeErr error
	member := func(key []byte) error {
		name, err := jsonscan.Unquote(key)
		if err != nil {
			return err
		}
		c, ok := s.Peek()
		if !ok {
			return s.Value() // the syntax error
		}
		wrongType := func(want string) error {
			if typeErr == nil {
				typeErr = fmt.Errorf("envelope resource: property %s is a JSON %s; want %s", name, kind(c), want)
			}
			return s.Value()
		}
		switch {
		case strings.EqualFold(name, "more"):
			switch c {
			case 't', 'f':
				env.More = c == 't'
			case 'n':
			default:
				return wrongType("a boolean")
			}
			return s.Value()
		case strings.EqualFold(name, "next"):
			switch c {
			case '"':
				raw, err := s.Str()
				if err != nil {
					return err
				}
				env.Next, err = jsonscan.Unquote(raw)
				return err
			case 'n':
				return s.Value()
			}
			return wrongType("a string")
		case strings.EqualFold(name, "objects"):
			switch c {
			case '[':
				env.Objects = env.Objects[:0]
				if env.Objects == nil {
					env.Objects = []json.RawMessage{}
				}
				return s.Array(func(raw []byte) { env.Objects = append(env.Objects, raw) })
			case 'n':
				env.Objects = nil
				return s.Value()
			}
			return wrongType("a list")
		}
		return s.Value()
	}
	if err := s.Object(member); err != nil {
		return nil, fmt.Errorf("envelope resource: %w", err)
	}
	if err := s.End(); err != nil {
		return nil, fmt.Errorf("envelope resource: %w", err)
	}
	if typeErr != nil {
		return nil, typeErr
	}
	return env, nil
}
