// Package crashworld is the crash matrix's test kit: a stateful fake world
// persisted to a file (so it survives SIGKILL), a release plan of fourteen
// steps and gates acting on it, and the helper process that runs, resumes or
// rolls back that plan and kills itself at a chosen journal boundary.
//
// It is intended for use only in tests.
package crashworld

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// State is the world: values, and how often each step's Do and
// compensation ran.
type State struct {
	Values map[string]string `json:"values"`
	Do     map[string]int    `json:"do"`
	Undo   map[string]int    `json:"undo"`
}

// Initial is the world before any run.
func Initial() State {
	return State{
		Values: map[string]string{
			"incident":    "none",
			"maintenance": "off",
			"backups":     "",
			"schema":      "014",
			"backend":     "0.2.9",
			"ml-service":  "0.2.9",
			"mqtt-bridge": "0.2.9",
			"frontend":    "0.2.9",
			"weights":     "100/0",
			"notified":    "",
		},
		Do:   map[string]int{},
		Undo: map[string]int{},
	}
}

// World is a [State] kept in a file: every change is written to a temporary
// file, fsync'ed and renamed over the old one.
type World struct {
	path   string
	mu     sync.Mutex
	st     State
	frozen atomic.Bool
}

// Freeze stops the world: every later Update blocks forever. The helper
// freezes it just before killing itself, so that nothing changes after the
// chosen boundary.
func (w *World) Freeze() { w.frozen.Store(true) }

// Open opens the world at path, creating it in its [Initial] state.
func Open(path string) (*World, error) {
	w := &World{path: path}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		w.st = Initial()
		return w, w.save()
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &w.st); err != nil {
		return nil, fmt.Errorf("crashworld: %s: %w", path, err)
	}
	return w, nil
}

// Read returns the world saved at path.
func Read(path string) (State, error) {
	w, err := Open(path)
	if err != nil {
		return State{}, err
	}
	return w.State(), nil
}

// State returns a copy of the world.
func (w *World) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return State{Values: maps.Clone(w.st.Values), Do: maps.Clone(w.st.Do), Undo: maps.Clone(w.st.Undo)}
}

// Update changes the world and saves it durably.
func (w *World) Update(fn func(s *State)) error {
	if w.frozen.Load() {
		select {}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fn(&w.st)
	return w.save()
}

func (w *World) save() error {
	data, err := json.Marshal(w.st)
	if err != nil {
		return err
	}
	tmp := w.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, w.path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(w.path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
