package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/exercise"
)

// Exercises runs joint exercises for the console: a scenario played on a
// federation of real nodes of its own, never on the node's own store or
// links, and scored.
type Exercises interface {
	// Run starts a fresh federation for sc, plays the scenario's timeline
	// on it and scores it. It calls progress with each line of the run's
	// log as it is written (the federation starting, every inject as it is
	// played, the verdict), from one goroutine at a time. It returns when
	// the run is over and its federation stopped; when ctx ends, it stops
	// the run and returns ctx's error.
	Run(ctx context.Context, sc *exercise.Scenario, progress func(line string)) (*exercise.Scorecard, error)
}

// maxScenarioUpload bounds an uploaded scenario file; the built-in
// scenarios are a few kilobytes.
const maxScenarioUpload = 256 << 10

// maxExerciseRun bounds one run in real time: a scenario that has not
// finished by then is stopped and reported as such.
var maxExerciseRun = 30 * time.Minute

// keptExercises is how many finished runs the page lists, newest first;
// older ones are forgotten with their scorecards.
const keptExercises = 10

// exerciseRun is one run of a scenario, from its start to its scorecard.
type exerciseRun struct {
	id       int
	scenario string
	title    string
	by       string
	started  time.Time

	mu       sync.Mutex
	lines    []string
	done     bool
	err      string
	card     *exercise.Scorecard
	html     []byte // the scorecard's page, written once when the run ends
	finished time.Time
}

// exerciseRuns holds the node's runs: at most one running at a time.
type exerciseRuns struct {
	mu   sync.Mutex
	next int
	runs []*exerciseRun // newest first
}

// errExerciseRunning refuses a start while another run is in progress.
var errExerciseRunning = badInput("An exercise is already running on this node; wait for its verdict, then start another.")

// startExercise begins a run of sc by user in the background, unless
// another run is still going.
func (s *Server) startExercise(sc *exercise.Scenario, user string) (*exerciseRun, error) {
	rs := &s.exercises
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.runs {
		if !r.finishedYet() {
			return nil, errExerciseRunning
		}
	}
	rs.next++
	run := &exerciseRun{id: rs.next, scenario: sc.ID, title: sc.Title, by: user, started: s.cfg.Now()}
	rs.runs = append([]*exerciseRun{run}, rs.runs...)
	if len(rs.runs) > keptExercises {
		rs.runs = rs.runs[:keptExercises]
	}
	s.cfg.Logger.Info("console: exercise started", "run", run.id, "scenario", sc.ID, "user", user)
	go s.play(run, sc)
	return run, nil
}

// play runs sc to its end. The run belongs to the node, not to the
// request that started it: it goes on when the browser leaves.
func (s *Server) play(run *exerciseRun, sc *exercise.Scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), maxExerciseRun)
	defer cancel()
	card, err := s.cfg.Exercises.Run(ctx, sc, run.log)
	var page bytes.Buffer
	if err == nil {
		err = card.WriteHTML(&page)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.done, run.finished = true, s.cfg.Now()
	if err != nil {
		s.cfg.Logger.Error("console: exercise", "run", run.id, "scenario", run.scenario, "err", err)
		run.err = "The run did not finish: " + err.Error()
		return
	}
	run.card, run.html = card, page.Bytes()
	s.cfg.Logger.Info("console: exercise finished", "run", run.id, "scenario", run.scenario, "passed", card.Passed())
}

func (r *exerciseRun) log(line string) {
	line = strings.TrimRight(line, "\n")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *exerciseRun) finishedYet() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

// exerciseStatus is a run as the page and its status endpoint show it.
type exerciseStatus struct {
	ID       int      `json:"id"`
	Scenario string   `json:"scenario"`
	Title    string   `json:"title"`
	By       string   `json:"by"`
	Started  string   `json:"started"`
	From     int      `json:"from"`
	Lines    []string `json:"lines"`
	Done     bool     `json:"done"`
	// Verdict is PASSED or FAILED once the run is scored; Summary says
	// why in a line.
	Verdict   string           `json:"verdict,omitempty"`
	Summary   string           `json:"summary,omitempty"`
	Error     string           `json:"error,omitempty"`
	Scorecard string           `json:"scorecard,omitempty"`
	Events    []exercise.Event `json:"-"`
}

// status is the run's state, with its log from line from on.
func (r *exerciseRun) status(from int) exerciseStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := exerciseStatus{ID: r.id, Scenario: r.scenario, Title: r.title, By: r.by,
		Started: r.started.UTC().Format("2006-01-02 15:04:05Z"), Done: r.done, Error: r.err}
	from = min(max(from, 0), len(r.lines))
	st.From, st.Lines = from, append([]string{}, r.lines[from:]...)
	if c := r.card; c != nil {
		st.Verdict = "FAILED"
		if c.Passed() {
			st.Verdict = "PASSED"
		}
		st.Summary = fmt.Sprintf("%d expectations met, %d missed, %d policy violations", c.Met, c.Missed, len(c.Violations))
		st.Scorecard = fmt.Sprintf("%s/exercises/%d/scorecard", Prefix, r.id)
		st.Events = c.Events
	}
	return st
}

func (s *Server) exerciseRun(r *http.Request) (*exerciseRun, error) {
	id, err := strconv.Atoi(r.PathValue("run"))
	if err != nil {
		return nil, errNotFound
	}
	s.exercises.mu.Lock()
	defer s.exercises.mu.Unlock()
	for _, run := range s.exercises.runs {
		if run.id == id {
			return run, nil
		}
	}
	return nil, errNotFound
}

// builtinScenario is a built-in scenario as the page lists it.
type builtinScenario struct {
	ID, Title                    string
	Nations                      []string
	Injects, Expectations, Hours int
}

type exercisesData struct {
	Off      bool
	MayStart bool
	Running  bool
	Builtin  []builtinScenario
	Runs     []exerciseStatus
	MaxKiB   int
}

func (s *Server) exercisesPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := exercisesData{Off: s.cfg.Exercises == nil, MayStart: rq.user.Has(tearline.RoleAdmin), MaxKiB: maxScenarioUpload >> 10}
	if !d.Off {
		for _, id := range exercise.BuiltinIDs() {
			sc, _, err := exercise.Builtin(id)
			if err != nil {
				return err
			}
			d.Builtin = append(d.Builtin, builtinScenario{ID: id, Title: sc.Title, Nations: sc.NationCodes(),
				Injects: len(sc.Timeline), Expectations: len(sc.Expect)})
		}
		s.exercises.mu.Lock()
		runs := append([]*exerciseRun{}, s.exercises.runs...)
		s.exercises.mu.Unlock()
		for _, run := range runs {
			st := run.status(0)
			d.Running = d.Running || !st.Done
			d.Runs = append(d.Runs, st)
		}
	}
	s.render(w, r, rq, http.StatusOK, "exercises.html", "Exercises", d)
	return nil
}

// startExercisePost starts a run of a built-in scenario or of an
// uploaded file. The form is multipart when it carries a file, so it
// checks the CSRF token and origin itself, as mutating does for the
// other forms; only an administrator may start a run.
func (s *Server) startExercisePost(w http.ResponseWriter, r *http.Request, rq *request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxScenarioUpload+64<<10)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	if ct == "multipart/form-data" {
		err = r.ParseMultipartForm(maxScenarioUpload + 64<<10)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return badInput("The form could not be read: a scenario file may have at most %d KiB (%v).", maxScenarioUpload>>10, err)
	}
	if !sameOrigin(r) || !equalSecret(r.PostFormValue("csrf"), rq.sess.csrf) {
		return errForbidden
	}
	if !rq.user.Has(tearline.RoleAdmin) {
		s.render(w, r, rq, http.StatusForbidden, "error.html", "Refused", errorPage{
			Heading: "Refused", Message: "Only an administrator of this node may start an exercise. You may follow runs and open their scorecards."})
		return nil
	}
	if s.cfg.Exercises == nil {
		return errNotFound
	}
	sc, err := scenarioOf(r)
	if err != nil {
		return err
	}
	run, err := s.startExercise(sc, rq.user.Name)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%s/exercises/%d", Prefix, run.id), http.StatusSeeOther)
	return nil
}

// scenarioOf reads the scenario a start form names: an uploaded file,
// parsed with exercise.Parse, or a built-in one.
func scenarioOf(r *http.Request) (*exercise.Scenario, error) {
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["scenario"]; len(fhs) > 0 && fhs[0].Filename != "" {
			fh := fhs[0]
			if fh.Size > maxScenarioUpload {
				return nil, badInput("%s is %d KiB; a scenario file may have at most %d KiB.", fh.Filename, fh.Size>>10, maxScenarioUpload>>10)
			}
			f, err := fh.Open()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			data, err := io.ReadAll(io.LimitReader(f, maxScenarioUpload+1))
			if err != nil {
				return nil, err
			}
			sc, err := exercise.Parse(data)
			var se *exercise.Error
			if errors.As(err, &se) {
				return nil, badInput("%s cannot be played: %s. Correct the file (its format is in the scenario schema) and upload it again.",
					fh.Filename, strings.Join(se.Problems, "; "))
			}
			if err != nil {
				return nil, badInput("%s cannot be played: %v", fh.Filename, err)
			}
			return sc, nil
		}
	}
	id := r.PostFormValue("builtin")
	if id == "" {
		return nil, badInput("Choose a built-in scenario or upload a scenario file.")
	}
	sc, _, err := exercise.Builtin(id)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return sc, nil
}

type exerciseData struct {
	exerciseStatus
	Status string // the status endpoint the page polls
}

func (s *Server) exercisePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := s.exerciseRun(r)
	if err != nil {
		return err
	}
	st := run.status(0)
	s.render(w, r, rq, http.StatusOK, "exercises-run.html", "Exercise "+st.Scenario,
		exerciseData{exerciseStatus: st, Status: fmt.Sprintf("%s/exercises/%d/status", Prefix, run.id)})
	return nil
}

// exerciseStatusJSON is what the run's page polls: the log from line
// ?from= on, and the verdict once there is one.
func (s *Server) exerciseStatusJSON(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := s.exerciseRun(r)
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	data, err := json.Marshal(run.status(from))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
	return nil
}

// scorecardPolicy is the Content Security Policy of a scorecard page:
// the page exercise.Scorecard.WriteHTML writes has no script, no image
// and no form, and styles itself inline.
const scorecardPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// exerciseScorecard serves a finished run's scorecard as its own page.
func (s *Server) exerciseScorecard(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := s.exerciseRun(r)
	if err != nil {
		return err
	}
	run.mu.Lock()
	page := run.html
	run.mu.Unlock()
	if page == nil {
		return errNotFound
	}
	w.Header().Set("Content-Security-Policy", scorecardPolicy)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
	return nil
}

// exerciseScorecardJSON serves a finished run's scorecard as JSON.
func (s *Server) exerciseScorecardJSON(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := s.exerciseRun(r)
	if err != nil {
		return err
	}
	run.mu.Lock()
	card := run.card
	run.mu.Unlock()
	if card == nil {
		return errNotFound
	}
	var b bytes.Buffer
	if err := card.WriteJSON(&b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b.Bytes())
	return nil
}
