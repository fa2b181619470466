package store

import (
	"context"
	"fmt"
)

// Assignment types, as Keystone names them.
const (
	UserProject  = "UserProject"
	GroupProject = "GroupProject"
	UserDomain   = "UserDomain"
	GroupDomain  = "GroupDomain"
	UserSystem   = "UserSystem"
	GroupSystem  = "GroupSystem"
)

// SystemTarget is the TargetID of system assignments.
const SystemTarget = "system"

// Assignment grants a role to an actor (a user or a group) on a target (a
// project, a domain or the system).
type Assignment struct {
	// Type is one of UserProject, GroupProject, UserDomain, GroupDomain,
	// UserSystem, GroupSystem.
	Type    string
	ActorID string
	// TargetID is a project or domain ID, or "system".
	TargetID string
	RoleID   string
	// Inherited assignments apply to the projects below the target rather
	// than to the target itself.
	Inherited bool
}

// AssignmentFilter selects assignments; zero fields match any.
type AssignmentFilter struct {
	// ActorIDs restricts the actors; nil means any, an empty non-nil slice
	// matches nothing.
	ActorIDs []string
	TargetID string
	RoleID   string
	Type     string
	// Types restricts the types to these, when not empty.
	Types []string
	// Inherited, when set, matches only inherited or only direct
	// assignments.
	Inherited *bool
}

type assignmentRow struct {
	Type      string
	UserID    *string
	GroupID   *string
	ProjectID *string
	DomainID  *string
	RoleID    string
	Inherited bool
	ActorID   string `gorm:"->"`
	TargetID  string `gorm:"->"`
}

func (assignmentRow) TableName() string { return "assignments" }

func (r assignmentRow) assignment() Assignment {
	return Assignment{Type: r.Type, ActorID: r.ActorID, TargetID: r.TargetID, RoleID: r.RoleID, Inherited: r.Inherited}
}

// String describes a for error messages.
func (a Assignment) String() string {
	target := a.TargetID
	if assignmentKinds[a.Type].target == "system" {
		target = SystemTarget
	}
	s := fmt.Sprintf("%s assignment of role %s to %s on %s", a.Type, a.RoleID, a.ActorID, target)
	if a.Inherited {
		s = "inherited " + s
	}
	return s
}

// assignmentKinds maps each assignment type to its actor and target kinds.
var assignmentKinds = map[string]struct{ actor, target string }{
	UserProject:  {"user", "project"},
	GroupProject: {"group", "project"},
	UserDomain:   {"user", "domain"},
	GroupDomain:  {"group", "domain"},
	UserSystem:   {"user", "system"},
	GroupSystem:  {"group", "system"},
}

// row checks a and spreads its actor and target into their typed columns.
func (a Assignment) row() (assignmentRow, error) {
	r := assignmentRow{Type: a.Type, RoleID: a.RoleID, Inherited: a.Inherited}
	k, ok := assignmentKinds[a.Type]
	switch {
	case !ok:
		return r, fmt.Errorf("%s: unknown assignment type %q: %w", a, a.Type, ErrInvalid)
	case a.ActorID == "" || a.RoleID == "" || (k.target != "system" && a.TargetID == ""):
		return r, fmt.Errorf("%s: actor, target and role are required: %w", a, ErrInvalid)
	case k.target == "system" && a.TargetID != "" && a.TargetID != SystemTarget:
		return r, fmt.Errorf("%s: system assignments target %q: %w", a, SystemTarget, ErrInvalid)
	}
	if k.actor == "user" {
		r.UserID = &a.ActorID
	} else {
		r.GroupID = &a.ActorID
	}
	switch k.target {
	case "project":
		r.ProjectID = &a.TargetID
	case "domain":
		r.DomainID = &a.TargetID
	}
	return r, nil
}

// Grant records an assignment; granting one that exists is not an error.
// An unknown actor, target or role is ErrNotFound.
func (s *Store) Grant(ctx context.Context, a Assignment) error {
	r, err := a.row()
	if err != nil {
		return err
	}
	err = s.q(ctx).Exec(`INSERT INTO assignments (type, user_id, group_id, project_id, domain_id, role_id, inherited)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.Type, r.UserID, r.GroupID, r.ProjectID, r.DomainID, r.RoleID, r.Inherited).Error
	return wrap(err, a.String())
}

// Revoke removes an assignment; ErrNotFound if there is none.
func (s *Store) Revoke(ctx context.Context, a Assignment) error {
	if _, err := a.row(); err != nil {
		return err
	}
	target := a.TargetID
	if assignmentKinds[a.Type].target == "system" {
		target = SystemTarget
	}
	res := s.q(ctx).Where("type = ? AND actor_id = ? AND target_id = ? AND role_id = ? AND inherited = ?",
		a.Type, a.ActorID, target, a.RoleID, a.Inherited).Delete(&assignmentRow{})
	return affected(res, a.String())
}

// ListAssignments returns the assignments matching f, sorted by type,
// actor, target, role and inheritance.
func (s *Store) ListAssignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error) {
	q := s.q(ctx).Order("type, actor_id, target_id, role_id, inherited")
	if f.ActorIDs != nil {
		if len(f.ActorIDs) == 0 {
			return []Assignment{}, nil
		}
		q = q.Where("actor_id IN ?", f.ActorIDs)
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if f.RoleID != "" {
		q = q.Where("role_id = ?", f.RoleID)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if len(f.Types) > 0 {
		q = q.Where("type IN ?", f.Types)
	}
	if f.Inherited != nil {
		q = q.Where("inherited = ?", *f.Inherited)
	}
	var rows []assignmentRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap(err, "list assignments")
	}
	out := make([]Assignment, len(rows))
	for i, r := range rows {
		out[i] = r.assignment()
	}
	return out, nil
}

// userAssignments is a CTE of the assignments held by a user (@user),
// directly or through the groups the user is a member of.
const userAssignments = `held AS (
	SELECT * FROM assignments
	WHERE user_id = @user
	   OR group_id IN (SELECT group_id FROM group_members WHERE user_id = @user)
)`

// effectiveRoles selects the role IDs of the "direct" CTE expanded through
// implied roles, transitively; UNION makes cycles terminate.
const effectiveRoles = `closure AS (
	SELECT role_id FROM direct
	UNION
	SELECT ir.implied_role_id FROM implied_roles ir JOIN closure c ON ir.prior_role_id = c.role_id
)
SELECT role_id FROM closure ORDER BY role_id`

// EffectiveRoleIDs returns the IDs of the roles a user holds on a target,
// sorted: the user's assignments and those of the user's groups, expanded
// through implied roles transitively. kind is "project", "domain" or
// "system" (targetID is then ignored). On a project this includes the
// inherited assignments on its domain and on its ancestor projects, as in
// Keystone; inherited assignments never apply to their own target.
func (s *Store) EffectiveRoleIDs(ctx context.Context, userID, kind, targetID string) ([]string, error) {
	var direct string
	switch kind {
	case "project":
		direct = `ancestors AS (
			SELECT parent_id AS id FROM projects WHERE id = @target AND parent_id IS NOT NULL
			UNION
			SELECT p.parent_id FROM projects p JOIN ancestors a ON p.id = a.id WHERE p.parent_id IS NOT NULL
		),
		direct AS (
			SELECT role_id FROM held WHERE
			   (project_id = @target AND NOT inherited)
			OR (project_id IN (SELECT id FROM ancestors) AND inherited)
			OR (domain_id = (SELECT domain_id FROM projects WHERE id = @target) AND inherited)
		)`
	case "domain":
		direct = `direct AS (SELECT role_id FROM held WHERE domain_id = @target AND NOT inherited)`
	case "system":
		direct = `direct AS (SELECT role_id FROM held WHERE type IN ('UserSystem', 'GroupSystem'))`
	default:
		return nil, fmt.Errorf("effective roles of user %s: unknown scope %q: %w", userID, kind, ErrInvalid)
	}
	sql := "WITH RECURSIVE " + userAssignments + ",\n" + direct + ",\n" + effectiveRoles
	out := []string{}
	err := s.q(ctx).Raw(sql, map[string]any{"user": userID, "target": targetID}).Scan(&out).Error
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("effective roles of user %s on %s %s", userID, kind, targetID))
	}
	return out, nil
}

// ProjectsForUser returns the projects on which a user holds any role,
// directly or through a group: assigned on the project itself, or
// inherited from its domain or an ancestor project.
func (s *Store) ProjectsForUser(ctx context.Context, userID string) ([]Project, error) {
	sql := `WITH RECURSIVE ` + userAssignments + `,
	subtree AS (
		SELECT p.id FROM projects p JOIN held h ON p.parent_id = h.project_id AND h.inherited
		UNION
		SELECT p.id FROM projects p JOIN subtree t ON p.parent_id = t.id
	),
	reachable AS (
		SELECT project_id AS id FROM held WHERE project_id IS NOT NULL AND NOT inherited
		UNION SELECT id FROM subtree
		UNION SELECT p.id FROM projects p JOIN held h ON p.domain_id = h.domain_id AND h.inherited
	)
	SELECT * FROM projects WHERE id IN (SELECT id FROM reachable) ORDER BY name, id`
	var rows []projectRow
	if err := s.q(ctx).Raw(sql, map[string]any{"user": userID}).Scan(&rows).Error; err != nil {
		return nil, wrap(err, "projects of user "+userID)
	}
	return projects(rows), nil
}

// DomainsForUser returns the domains on which a user holds any role
// directly or through a group (inherited assignments, which apply to the
// domain's projects, do not count).
func (s *Store) DomainsForUser(ctx context.Context, userID string) ([]Domain, error) {
	sql := `WITH ` + userAssignments + `
	SELECT * FROM domains WHERE id IN (SELECT domain_id FROM held WHERE NOT inherited) ORDER BY name, id`
	var rows []domainRow
	if err := s.q(ctx).Raw(sql, map[string]any{"user": userID}).Scan(&rows).Error; err != nil {
		return nil, wrap(err, "domains of user "+userID)
	}
	out := make([]Domain, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}
