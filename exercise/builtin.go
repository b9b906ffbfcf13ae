package exercise

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed scenarios/*.yaml
var builtin embed.FS

// Builtin returns a built-in scenario by id ("five-nations").
func Builtin(id string) (*Scenario, []byte, error) {
	data, err := builtin.ReadFile("scenarios/" + id + ".yaml")
	if err != nil {
		return nil, nil, fmt.Errorf("no built-in scenario %q (built in: %s)", id, strings.Join(BuiltinIDs(), ", "))
	}
	sc, err := Parse(data)
	if err != nil {
		return nil, nil, err
	}
	return sc, data, nil
}

// BuiltinIDs lists the built-in scenarios.
func BuiltinIDs() []string {
	names, _ := fs.Glob(builtin, "scenarios/*.yaml")
	var ids []string
	for _, n := range names {
		ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(n, "scenarios/"), ".yaml"))
	}
	slices.Sort(ids)
	return ids
}
