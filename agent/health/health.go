// Package health tracks whether kioskd's components are ready and tells the
// world: /healthz, /readyz and /metrics over HTTP on the local listener, and
// READY, WATCHDOG and STOPPING notifications to systemd (Type=notify). The
// watchdog is pinged only while every component is ready, so systemd
// restarts an agent that is alive but cannot do its job.
package health

import (
	"errors"
	"sort"
	"sync"
)

// ErrStarting is the readiness error of a component that has not finished
// starting yet.
var ErrStarting = errors.New("starting")

// Registry holds the readiness checks of the daemon's components. It is safe
// for concurrent use.
type Registry struct {
	mu     sync.Mutex
	checks map[string]func() error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{checks: map[string]func() error{}}
}

// Add registers a component's readiness check: it returns nil when the
// component is ready and an error saying why not otherwise. Checks must be
// fast and must not block. Adding a name twice replaces the check.
func (r *Registry) Add(name string, check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// Component returns a settable readiness for name, initially not ready with
// ErrStarting; it is for components that know their own state best.
func (r *Registry) Component(name string) *State {
	s := &State{err: ErrStarting}
	r.Add(name, s.Err)
	return s
}

// ComponentStatus is one component's readiness.
type ComponentStatus struct {
	Name   string `json:"name"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// Report is the readiness of every component.
type Report struct {
	Ready      bool              `json:"ready"`
	Components []ComponentStatus `json:"components"`
}

// Check runs every check and reports, components sorted by name. The daemon
// is ready when every component is.
func (r *Registry) Check() Report {
	r.mu.Lock()
	names := make([]string, 0, len(r.checks))
	for n := range r.checks {
		names = append(names, n)
	}
	checks := make([]func() error, len(names))
	sort.Strings(names)
	for i, n := range names {
		checks[i] = r.checks[n]
	}
	r.mu.Unlock()

	rep := Report{Ready: true, Components: make([]ComponentStatus, len(names))}
	for i, n := range names {
		cs := ComponentStatus{Name: n, Ready: true}
		if err := checks[i](); err != nil {
			cs.Ready, cs.Reason = false, err.Error()
			rep.Ready = false
		}
		rep.Components[i] = cs
	}
	return rep
}

// State is a component's settable readiness.
type State struct {
	mu  sync.Mutex
	err error
}

// Set records the component as ready (err == nil) or not ready because of
// err.
func (s *State) Set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Err returns nil when ready, or why not.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
