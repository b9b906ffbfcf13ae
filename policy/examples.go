package policy

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/tearline/tearline"
)

//go:embed examples/*.yaml
var examples embed.FS

// ExampleAgreements returns the commented example agreements shipped with
// Tearline (a Five Eyes style arrangement, a NATO-wide one, a bilateral
// GBR-FRA one and a police cooperation one), parsed. They are illustrations
// for demonstrations and benchmarks, not texts of real agreements.
func ExampleAgreements() ([]tearline.Agreement, error) {
	names, err := fs.Glob(examples, "examples/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []tearline.Agreement
	for _, n := range names {
		data, err := examples.ReadFile(n)
		if err != nil {
			return nil, err
		}
		a, err := ParseAgreement(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ExampleAgreementText returns the text of a shipped example agreement by
// file name ("fvey.yaml", "nato.yaml", "gbr-fra.yaml", "police.yaml").
func ExampleAgreementText(name string) ([]byte, error) {
	data, err := examples.ReadFile("examples/" + name)
	if err != nil {
		return nil, fmt.Errorf("no example agreement %q", name)
	}
	return data, nil
}
