package exercise

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"
)

// Scorecard is the result of a run.
type Scorecard struct {
	Scenario string  `json:"scenario"`
	Title    string  `json:"title"`
	Exercise string  `json:"exercise"`
	Speed    float64 `json:"speed"`
	// Duration is the scenario time the run took.
	Duration time.Duration `json:"duration_ns"`
	Nations  []string      `json:"nations"`
	// HubNodes are the scenario's community hubs.
	HubNodes []string `json:"hubs,omitempty"`

	Met     int      `json:"expectations_met"`
	Missed  int      `json:"expectations_missed"`
	Results []Result `json:"expectations"`
	// Violations are releases the policy forbids that happened anyway;
	// a correct federation has none.
	Violations   []string   `json:"policy_violations"`
	NeededPerson []string   `json:"decisions_needing_a_person"`
	Events       []Event    `json:"injects"`
	Links        []LinkTime `json:"time_to_share"`
	Outages      []Outage   `json:"outages"`
	Arrivals     []Arrival  `json:"arrivals"`
	// HubChecks say what was found in each hub's stored files.
	HubChecks []HubCheck `json:"hub_checks,omitempty"`
}

// HubCheck is a hub's store read as raw bytes for the exercise's material
// in the clear.
type HubCheck struct {
	Hub      string `json:"hub"`
	Files    int    `json:"files"`
	Bytes    int64  `json:"bytes"`
	Searched int    `json:"strings_searched"`
	// Leaks are the strings found, each with its file; none is correct.
	Leaks []string `json:"leaks"`
	Error string   `json:"error,omitempty"`
}

// Passed reports a run with every expectation met and no violation.
func (c *Scorecard) Passed() bool { return c.Missed == 0 && len(c.Violations) == 0 }

// Result is one expectation, scored.
type Result struct {
	Index  int    `json:"index"`
	Kind   string `json:"kind"`
	Nation string `json:"nation"`
	Object string `json:"object"`
	Met    bool   `json:"met"`
	Why    string `json:"why"`
}

// Event is one inject as it was played.
type Event struct {
	Index  int           `json:"index"`
	At     time.Duration `json:"at_ns"`     // scenario time it was due
	Played time.Duration `json:"played_ns"` // scenario time it was played
	Kind   string        `json:"kind"`
	Nation string        `json:"nation,omitempty"`
	Detail string        `json:"detail,omitempty"`
	Note   string        `json:"note,omitempty"`
	Error  string        `json:"error,omitempty"`
	// Unsupported: the federation cannot play this kind of inject.
	Unsupported bool `json:"unsupported,omitempty"`
}

// LinkTime is the time to share over one link, from publication to
// arrival, in scenario time.
type LinkTime struct {
	Link    string        `json:"link"`
	Objects int           `json:"objects"`
	Median  time.Duration `json:"median_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Outage is a link cut or a node down, in scenario time.
type Outage struct {
	What  string        `json:"what"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	Open  bool          `json:"open,omitempty"` // never healed
}

// Arrival is when a node first held an object, in scenario time.
type Arrival struct {
	Nation string        `json:"nation"`
	Object string        `json:"object"`
	At     time.Duration `json:"at_ns"`
	Origin bool          `json:"origin,omitempty"` // the publisher's own copy
}

// WriteJSON writes the scorecard as indented JSON.
func (c *Scorecard) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

//go:embed scorecard.html.tmpl
var scorecardHTML string

var scorecardTmpl = template.Must(template.New("scorecard").Funcs(template.FuncMap{
	"d": func(d time.Duration) string { return d.Round(time.Second).String() },
}).Parse(scorecardHTML))

// chart is the timeline drawn in the HTML page: one row per nation, the
// scenario's time across.
type chart struct {
	Width, Height int
	Rows          []chartRow
	Marks         []chartMark
	Bars          []chartBar
	Ticks         []chartTick
}

type chartRow struct {
	Y    int
	Name string
}

type chartMark struct {
	X, Y  int
	Class string // publish, arrival, inject, failed
	Title string
}

type chartBar struct {
	X, Y, W int
	Title   string
}

type chartTick struct {
	X     int
	Label string
}

func (c *Scorecard) chart() chart {
	const left, rowH, top, width = 70, 28, 24, 900
	ch := chart{Width: left + width + 20}
	rowOf := map[string]int{}
	rows := append(slices.Clone(c.Nations), c.HubNodes...)
	for i, n := range rows {
		rowOf[n] = top + i*rowH + rowH/2
		ch.Rows = append(ch.Rows, chartRow{Y: rowOf[n], Name: n})
	}
	ch.Height = top + len(rows)*rowH + 30
	span := c.Duration
	for _, e := range c.Events {
		span = max(span, e.Played)
	}
	if span <= 0 {
		span = time.Second
	}
	x := func(d time.Duration) int { return left + int(float64(width)*float64(d)/float64(span)) }
	for i := 0; i <= 5; i++ {
		d := span * time.Duration(i) / 5
		ch.Ticks = append(ch.Ticks, chartTick{X: x(d), Label: d.Round(time.Second).String()})
	}
	for _, a := range c.Arrivals {
		class := "arrival"
		if a.Origin {
			class = "publish"
		}
		ch.Marks = append(ch.Marks, chartMark{X: x(a.At), Y: rowOf[a.Nation], Class: class, Title: fmt.Sprintf("%s at %s: %s", a.Nation, a.At, a.Object)})
	}
	for _, e := range c.Events {
		if e.Nation == "" || e.Kind == "publish" {
			continue
		}
		class := "inject"
		if e.Error != "" {
			class = "failed"
		}
		ch.Marks = append(ch.Marks, chartMark{X: x(e.Played), Y: rowOf[e.Nation] - 9, Class: class, Title: fmt.Sprintf("%s %s %s", e.Kind, e.Nation, e.Detail)})
	}
	for _, o := range c.Outages {
		y := top + 4
		if r, ok := rowOf[o.What]; ok {
			y = r + 6
		}
		ch.Bars = append(ch.Bars, chartBar{X: x(o.Start), Y: y, W: max(x(o.End)-x(o.Start), 2), Title: fmt.Sprintf("%s down %s to %s", o.What, o.Start, o.End)})
	}
	return ch
}

// WriteHTML writes the scorecard as a self-contained HTML page (no
// script, no external resource) with a timeline chart in SVG.
func (c *Scorecard) WriteHTML(w io.Writer) error {
	var b bytes.Buffer
	if err := scorecardTmpl.Execute(&b, struct {
		*Scorecard
		Chart chart
	}{c, c.chart()}); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
