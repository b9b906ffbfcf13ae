package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"

	"github.com/tearline/tearline/exercise"
	"github.com/tearline/tearline/web"
)

// consoleExercises runs the console's exercises as `tearline exercise run`
// does: runExercise starts one real node per nation in a fresh temporary
// directory, plays the timeline and scores it, and removes the directory
// when the run is over. Its log goes to the console line by line.
type consoleExercises struct {
	// speed is scenario seconds per real second.
	speed float64
}

var _ web.Exercises = consoleExercises{}

// consoleExerciseSpeed plays an hour of scenario in thirty seconds.
const consoleExerciseSpeed = 120

func (x consoleExercises) Run(ctx context.Context, sc *exercise.Scenario, progress func(string)) (*exercise.Scorecard, error) {
	out := &lineWriter{line: progress}
	e := &env{stdin: bytes.NewReader(nil), stdout: out, stderr: io.Discard, getenv: os.Getenv}
	card, err := e.runExercise(ctx, sc, "", x.speed, "", nil)
	out.flush()
	return card, err
}

// lineWriter hands each complete line written to it to line; flush
// hands over the rest.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if l := string(w.buf[:i]); l != "" {
			w.line(l)
		}
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.line(string(w.buf))
		w.buf = nil
	}
}
