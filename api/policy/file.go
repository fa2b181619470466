package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// readFile parses an oslo.policy override file. Like oslo.policy it accepts
// JSON or YAML; either way it must be a map from rule name to rule text.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var rules map[string]string
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		rules, err = parseJSON(t)
	} else {
		rules, err = parseYAML(data)
	}
	if err != nil {
		return nil, fmt.Errorf("policy: %s: %w", path, err)
	}
	return rules, nil
}

func parseJSON(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{', checked by the caller
		return nil, err
	}
	rules := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name := tok.(string) // object keys are strings in valid JSON
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("rule %q: %w", name, err)
		}
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, fmt.Errorf("rule %q: value must be a string, got %s", name, raw)
		}
		if _, dup := rules[name]; dup {
			return nil, fmt.Errorf("rule %q: defined twice", name)
		}
		rules[name] = text
	}
	return rules, nil
}

func parseYAML(data []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	rules := map[string]string{}
	if doc.Kind == 0 { // empty file or comments only
		return rules, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, errors.New("want a map from rule name to rule text")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: rule name must be a string", k.Line)
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
			return nil, fmt.Errorf("rule %q (line %d): value must be a string; quote it", name, v.Line)
		}
		if _, dup := rules[name]; dup {
			return nil, fmt.Errorf("rule %q (line %d): defined twice", name, k.Line)
		}
		rules[name] = v.Value
	}
	return rules, nil
}
