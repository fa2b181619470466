package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// RuleError reports a rule that could not be compiled or linked.
type RuleError struct {
	Rule   string // the rule's name
	Source string // the rule's text
	Err    error
}

// Error names the rule, quotes its text and gives the cause.
func (e *RuleError) Error() string {
	return fmt.Sprintf("policy: rule %q (%q): %v", e.Rule, e.Source, e.Err)
}

// Unwrap returns the cause.
func (e *RuleError) Unwrap() error { return e.Err }

// ruleSet is an immutable, fully linked snapshot of the effective rules.
// Enforce reads it without locks; writers build a new one and swap it in.
type ruleSet struct {
	rules map[string]*node
	src   map[string]string
}

// Enforcer evaluates named rules against credentials and a target. It is
// safe for concurrent use: Enforce never blocks, and Register and LoadFile
// swap in a new compiled rule set atomically.
type Enforcer struct {
	mu        sync.Mutex // serialises writers
	defaults  map[string]string
	overrides map[string]string
	cur       atomic.Pointer[ruleSet]
}

// New returns an enforcer holding the given default rules, typically
// [Defaults]; it fails, naming the rule, if any rule does not parse.
func New(defaults map[string]string) (*Enforcer, error) {
	e := &Enforcer{defaults: map[string]string{}, overrides: map[string]string{}}
	e.cur.Store(&ruleSet{rules: map[string]*node{}, src: map[string]string{}})
	if err := e.Register(defaults); err != nil {
		return nil, err
	}
	return e, nil
}

// Register adds a service's default rules. Registering a name again with
// different text is an error, so two services cannot silently fight over a
// rule; an operator override of the name still wins.
func (e *Enforcer) Register(defaults map[string]string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := maps.Clone(e.defaults)
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		text := defaults[name]
		if name == "" {
			return errors.New("policy: empty rule name")
		}
		if old, ok := next[name]; ok && old != text {
			return &RuleError{Rule: name, Source: text, Err: fmt.Errorf("already registered as %q", old)}
		}
		next[name] = text
	}
	rs, err := build(next, e.overrides)
	if err != nil {
		return err
	}
	e.defaults = next
	e.cur.Store(rs)
	return nil
}

// LoadFile reads the operator's override file (YAML or JSON, a map from rule
// name to rule text) and makes it the current set of overrides: its rules
// replace the defaults of the same name, and rules dropped from the file
// since the last load revert to their defaults. On any error the rules in
// force are left unchanged; the error names the offending rule. Besides
// syntax errors, a rule in the file that references an unknown rule or
// credentials attribute is refused, as it could only ever deny.
func (e *Enforcer) LoadFile(path string) error {
	over, err := readFile(path)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rs, err := build(e.defaults, over)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(over)) {
		errs = append(errs, rs.problems(name)...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", path, errors.Join(errs...))
	}
	e.overrides = over
	e.cur.Store(rs)
	return nil
}

// Enforce reports whether the named rule allows cred to act on target. A
// rule name that is not registered is denied.
func (e *Enforcer) Enforce(rule string, cred Credentials, target Target) bool {
	n := e.cur.Load().rules[rule]
	return n != nil && n.eval(&cred, target)
}

// Check reports every rule in force that references an unknown rule or an
// unknown credentials attribute; such checks always evaluate to false.
// Call it once every service has registered its defaults.
func (e *Enforcer) Check() error {
	rs := e.cur.Load()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(rs.rules)) {
		errs = append(errs, rs.problems(name)...)
	}
	return errors.Join(errs...)
}

// Rules returns the text of every rule in force, defaults merged with
// overrides, for documentation and debugging.
func (e *Enforcer) Rules() map[string]string {
	return maps.Clone(e.cur.Load().src)
}

// problems lists the unknown references in one rule.
func (rs *ruleSet) problems(name string) []error {
	var errs []error
	rs.rules[name].walk(func(n *node) {
		switch {
		case n.op == opRule && n.ref == nil:
			errs = append(errs, &RuleError{Rule: name, Source: rs.src[name], Err: fmt.Errorf("unknown rule %q", n.name)})
		case n.unknownAttr:
			errs = append(errs, &RuleError{Rule: name, Source: rs.src[name], Err: fmt.Errorf("unknown credentials attribute %q", n.name)})
		}
	})
	return errs
}

// build compiles defaults overlaid with overrides, links rule references and
// refuses reference cycles.
func build(defaults, overrides map[string]string) (*ruleSet, error) {
	src := maps.Clone(defaults)
	maps.Copy(src, overrides)
	rs := &ruleSet{rules: make(map[string]*node, len(src)), src: src}
	names := slices.Sorted(maps.Keys(src))
	for _, name := range names {
		n, err := parseRule(src[name])
		if err != nil {
			return nil, &RuleError{Rule: name, Source: src[name], Err: err}
		}
		rs.rules[name] = n
	}
	for _, name := range names {
		rs.rules[name].walk(func(n *node) {
			if n.op == opRule {
				n.ref = rs.rules[n.name]
			}
		})
	}
	// Depth-first search for cycles, which would recurse forever in Enforce.
	const (
		unseen = iota
		active
		done
	)
	state := make(map[string]int, len(names))
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case active:
			cycle := append(path[slices.Index(path, name):], name)
			return &RuleError{Rule: name, Source: src[name], Err: fmt.Errorf("reference cycle %s", strings.Join(cycle, " -> "))}
		case done:
			return nil
		}
		state[name] = active
		var err error
		rs.rules[name].walk(func(n *node) {
			if err == nil && n.op == opRule && n.ref != nil {
				err = visit(n.name, append(path, name))
			}
		})
		state[name] = done
		return err
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return rs, nil
}
