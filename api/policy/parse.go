package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tokKind classifies a lexical token of a rule.
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokCheck
)

type token struct {
	kind tokKind
	text string // the check text for tokCheck
	pos  int    // byte offset in the rule, for error messages
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lex splits a rule into tokens. Unlike oslo.policy it does not split on
// whitespace first, so quoted literals may hold spaces and parentheses, and
// "not(role:x)" is understood; every rule oslo accepts lexes the same way.
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
			continue
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i})
			i++
			continue
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i})
			i++
			continue
		}
		start := i
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case isSpace(c), c == ')':
				break word
			case c == '(':
				if i == start || s[i-1] != '%' {
					break word
				}
				end := strings.IndexByte(s[i:], ')')
				if end < 0 {
					return nil, fmt.Errorf("unterminated %%( at offset %d", i-1)
				}
				i += end + 1
			case c == '\'' || c == '"':
				end := strings.IndexByte(s[i+1:], c)
				if end < 0 {
					return nil, fmt.Errorf("unterminated quote at offset %d", i)
				}
				i += end + 2
			default:
				i++
			}
		}
		w := s[start:i]
		t := token{kind: tokCheck, text: w, pos: start}
		switch {
		case strings.EqualFold(w, "and"):
			t.kind = tokAnd
		case strings.EqualFold(w, "or"):
			t.kind = tokOr
		case strings.EqualFold(w, "not"):
			t.kind = tokNot
		}
		toks = append(toks, t)
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

// parser is a recursive-descent parser over the token list:
//
//	or   := and { "or" and }
//	and  := not { "and" not }
//	not  := "not" not | atom
//	atom := "(" or ")" | check
type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

// parseRule compiles one rule's text into an evaluation tree. Rule
// references are left unresolved (ref == nil) for the caller to link.
func parseRule(s string) (*node, error) {
	if strings.TrimSpace(s) == "" {
		return &node{op: opAlways}, nil
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at offset %d", describe(t), t.pos)
	}
	return n, nil
}

func describe(t token) string {
	switch t.kind {
	case tokEOF:
		return "end of rule"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokAnd:
		return `"and"`
	case tokOr:
		return `"or"`
	case tokNot:
		return `"not"`
	}
	return strconv.Quote(t.text)
}

func (p *parser) parseOr() (*node, error) {
	n, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokOr {
		return n, nil
	}
	kids := []*node{n}
	for p.peek().kind == tokOr {
		p.next()
		k, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	return &node{op: opOr, kids: kids}, nil
}

func (p *parser) parseAnd() (*node, error) {
	n, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokAnd {
		return n, nil
	}
	kids := []*node{n}
	for p.peek().kind == tokAnd {
		p.next()
		k, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	return &node{op: opAnd, kids: kids}, nil
}

func (p *parser) parseNot() (*node, error) {
	if p.peek().kind != tokNot {
		return p.parseAtom()
	}
	p.next()
	k, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &node{op: opNot, kids: []*node{k}}, nil
}

func (p *parser) parseAtom() (*node, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, fmt.Errorf(`expected ")" for "(" at offset %d, found %s`, t.pos, describe(c))
		}
		return n, nil
	case tokCheck:
		n, err := parseCheck(t.text)
		if err != nil {
			return nil, fmt.Errorf("check %q at offset %d: %w", t.text, t.pos, err)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unexpected %s at offset %d", describe(t), t.pos)
}

// unquote strips one level of matching single or double quotes.
func unquote(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return s, false
}

// parseCheck compiles a single "kind:match" check, "@" or "!".
func parseCheck(s string) (*node, error) {
	switch s {
	case "@":
		return &node{op: opAlways}, nil
	case "!":
		return &node{op: opNever}, nil
	}
	// The kind may itself be a quoted literal containing ':'.
	var colon int
	if s[0] == '\'' || s[0] == '"' {
		end := strings.IndexByte(s[1:], s[0])
		colon = end + 2
		if end < 0 || colon >= len(s) || s[colon] != ':' {
			return nil, errors.New(`expected "kind:match"`)
		}
	} else {
		colon = strings.IndexByte(s, ':')
		if colon < 0 {
			return nil, errors.New(`expected "kind:match", "@" or "!"`)
		}
	}
	kind, match := s[:colon], s[colon+1:]
	if kind == "" {
		return nil, errors.New("empty kind")
	}
	if match == "" {
		return nil, errors.New("empty match")
	}
	lkind := strings.ToLower(kind)
	switch lkind {
	case "rule":
		name, _ := unquote(match)
		if name == "" {
			return nil, errors.New("empty rule name")
		}
		return &node{op: opRule, name: name}, nil
	case "role", "roles":
		o, err := parseOperand(match)
		if err != nil {
			return nil, err
		}
		o.lit = strings.ToLower(o.lit)
		return &node{op: opRole, rhs: o}, nil
	}
	// A literal on the left is compared with the (substituted) right side.
	if lit, quoted := unquote(kind); quoted || lkind == "true" || lkind == "false" {
		o, err := parseOperand(match)
		if err != nil {
			return nil, err
		}
		n := &node{op: opLiteral, lit: lit, rhs: o}
		if !quoted {
			n.op = opLiteralBool
			n.flag = lkind == "true"
		}
		return n, nil
	}
	o, err := parseOperand(match)
	if err != nil {
		return nil, err
	}
	f, ok := credFields[lkind]
	if !ok {
		// oslo.policy would look the attribute up in its credentials dict;
		// ours has none by that name, so the check can never pass.
		return &node{op: opNever, name: kind, unknownAttr: true}, nil
	}
	n := &node{op: opField, field: f, rhs: o}
	if f == fieldIsAdmin && o.kind == operandLiteral {
		b, err := strconv.ParseBool(o.lit)
		if err != nil {
			return nil, fmt.Errorf("is_admin wants True or False, got %q", o.lit)
		}
		n.flag = b
	}
	return n, nil
}

// parseOperand compiles the right side of a check: a quoted literal, a bare
// literal, a single %(key)s, or a template mixing both.
func parseOperand(s string) (operand, error) {
	if lit, quoted := unquote(s); quoted {
		return operand{kind: operandLiteral, lit: lit}, nil
	}
	if !strings.Contains(s, "%(") {
		return operand{kind: operandLiteral, lit: s}, nil
	}
	var parts []part
	for s != "" {
		i := strings.Index(s, "%(")
		if i < 0 {
			parts = append(parts, part{lit: s})
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: s[:i]})
		}
		end := strings.Index(s[i:], ")s")
		if end < 0 {
			return operand{}, fmt.Errorf("%q: substitution must look like %%(key)s", s[i:])
		}
		key := s[i+2 : i+end]
		if key == "" {
			return operand{}, errors.New("empty substitution key")
		}
		parts = append(parts, part{key: key, isKey: true})
		s = s[i+end+2:]
	}
	if len(parts) == 1 && parts[0].isKey {
		return operand{kind: operandKey, key: parts[0].key}, nil
	}
	return operand{kind: operandTemplate, parts: parts}, nil
}
