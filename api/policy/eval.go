package policy

import (
	"strconv"
	"strings"
)

// op is the operation of one node of a compiled rule.
type op uint8

const (
	opAlways      op = iota // @ or the empty rule
	opNever                 // !, or a check on an unknown credentials attribute
	opNot                   // not kids[0]
	opAnd                   // all kids
	opOr                    // any kid
	opRule                  // rule:name, linked to ref when the set is built
	opRole                  // role:x — any credentials role equals rhs
	opField                 // attr:x — a credentials attribute equals rhs
	opLiteral               // 'lit':x — a literal equals rhs
	opLiteralBool           // True:x / False:x — rhs parses as that boolean
)

// credField names a credentials attribute usable on the left of a check.
type credField uint8

const (
	fieldUserID credField = iota
	fieldUserDomainID
	fieldProjectID
	fieldProjectDomainID
	fieldDomainID
	fieldSystemScope
	fieldIsAdmin
)

// credFields maps the lower-cased attribute names oslo.policy credentials
// carry to our fields. role and roles are handled as opRole.
var credFields = map[string]credField{
	"user_id":           fieldUserID,
	"user_domain_id":    fieldUserDomainID,
	"project_id":        fieldProjectID,
	"tenant_id":         fieldProjectID,
	"tenant":            fieldProjectID,
	"project_domain_id": fieldProjectDomainID,
	"domain_id":         fieldDomainID,
	"system_scope":      fieldSystemScope,
	"is_admin":          fieldIsAdmin,
}

type operandKind uint8

const (
	operandLiteral  operandKind = iota // lit
	operandKey                         // %(key)s
	operandTemplate                    // parts, e.g. "pfx-%(key)s"
)

// operand is the compiled right side of a check.
type operand struct {
	kind  operandKind
	lit   string
	key   string
	parts []part
}

type part struct {
	lit   string
	key   string
	isKey bool
}

// node is one compiled rule node. A tree of nodes is immutable once built,
// so evaluation needs no locks and allocates nothing.
type node struct {
	op          op
	kids        []*node
	name        string // opRule: referenced rule; opNever: unknown attribute
	ref         *node  // opRule: the referenced rule's tree, nil if unknown
	field       credField
	rhs         operand
	lit         string
	flag        bool // opLiteralBool and literal is_admin: the wanted value
	unknownAttr bool // opNever standing for an unknown credentials attribute
}

func (n *node) eval(c *Credentials, t Target) bool {
	switch n.op {
	case opAlways:
		return true
	case opNever:
		return false
	case opNot:
		return !n.kids[0].eval(c, t)
	case opAnd:
		for _, k := range n.kids {
			if !k.eval(c, t) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if k.eval(c, t) {
				return true
			}
		}
		return false
	case opRule:
		return n.ref != nil && n.ref.eval(c, t)
	case opRole:
		return n.evalRole(c, t)
	case opField:
		return n.evalField(c, t)
	case opLiteral:
		return n.rhs.matches(n.lit, t, false)
	case opLiteralBool:
		v, ok := n.rhs.value(t)
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		return err == nil && b == n.flag
	}
	return false
}

func (n *node) evalRole(c *Credentials, t Target) bool {
	if n.rhs.kind == operandTemplate {
		for _, r := range c.Roles {
			if n.rhs.matches(r, t, true) {
				return true
			}
		}
		return false
	}
	want, ok := n.rhs.value(t)
	if !ok || want == "" {
		return false
	}
	for _, r := range c.Roles {
		if r == want || strings.EqualFold(r, want) {
			return true
		}
	}
	return false
}

func (n *node) evalField(c *Credentials, t Target) bool {
	var have string
	switch n.field {
	case fieldIsAdmin:
		isAdmin := c.HasRole("admin")
		if n.rhs.kind == operandLiteral {
			return isAdmin == n.flag
		}
		v, ok := n.rhs.value(t)
		if !ok {
			return false
		}
		b, err := strconv.ParseBool(v)
		return err == nil && b == isAdmin
	case fieldSystemScope:
		if !c.System {
			return false
		}
		v, ok := n.rhs.value(t)
		return ok && strings.EqualFold(v, "all")
	case fieldUserID:
		have = c.UserID
	case fieldUserDomainID:
		have = c.UserDomainID
	case fieldProjectID:
		have = c.ProjectID
	case fieldProjectDomainID:
		have = c.ProjectDomainID
	case fieldDomainID:
		have = c.DomainID
	}
	// An unset attribute never matches, even an empty target value: a
	// domain-scoped token must not pass project_id:%(project_id)s against a
	// target that happens to carry "".
	if have == "" {
		return false
	}
	return n.rhs.matches(have, t, false)
}

// value resolves a literal or single-key operand. Templates report !ok.
func (o *operand) value(t Target) (string, bool) {
	switch o.kind {
	case operandLiteral:
		return o.lit, true
	case operandKey:
		v, ok := t[o.key]
		return v, ok
	}
	return "", false
}

// matches reports whether s equals the operand after substitution from t,
// without building the substituted string. A missing key never matches.
func (o *operand) matches(s string, t Target, fold bool) bool {
	if o.kind != operandTemplate {
		v, ok := o.value(t)
		return ok && (s == v || fold && strings.EqualFold(s, v))
	}
	for i := range o.parts {
		p := &o.parts[i]
		v := p.lit
		if p.isKey {
			var ok bool
			if v, ok = t[p.key]; !ok {
				return false
			}
		}
		if len(s) < len(v) {
			return false
		}
		if head := s[:len(v)]; head != v && !(fold && strings.EqualFold(head, v)) {
			return false
		}
		s = s[len(v):]
	}
	return s == ""
}

// walk calls fn for every node of the tree rooted at n.
func (n *node) walk(fn func(*node)) {
	fn(n)
	for _, k := range n.kids {
		k.walk(fn)
	}
}
