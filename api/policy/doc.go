// Package policy owns kumo's one policy engine: oslo.policy rule syntax,
// default rules registered by each service, and the operator's override
// file. It must not know how credentials are obtained or any service's
// domain: callers hand it a Credentials value and a Target and ask whether a
// named rule allows the operation.
//
// # Rule syntax
//
// Rules use oslo.policy's string syntax:
//
//	role:admin                       the credentials carry the role (case-insensitive)
//	rule:admin_required              the result of another named rule
//	project_id:%(project_id)s        a credentials attribute equals a target value
//	user_id:%(target.user.id)s       target keys are looked up verbatim, dots included
//	system_scope:all                 the token is system-scoped
//	is_admin:True                    the credentials carry the admin role (see below)
//	domain_id:'default'              a quoted (or bare) literal on the right
//	'member':%(target.role.name)s    a literal on the left compared with a target value
//	@  or ""                         always allowed
//	!                                never allowed
//	not X, X and Y, X or Y, ( X )    with precedence not > and > or
//
// Keywords (and, or, not, rule, role, true, false) are case-insensitive; rule
// names, IDs and target keys are not. The credentials attributes known on the
// left of a check are user_id, user_domain_id, project_id (alias tenant_id,
// tenant), project_domain_id, domain_id, system_scope, is_admin, and role or
// roles.
//
// Evaluation never fails and never panics: a missing %(key)s in the target, a
// reference to an unknown rule, an unknown credentials attribute or an unset
// credentials attribute all evaluate to false. [Enforcer.Check] reports the
// unknown references so that a typo is caught at start-up rather than as a
// silent denial.
//
// # Roles are not implied here
//
// Keystone's implied roles (admin implies member implies reader) are expanded
// by the token issuer, not by this package: a user granted admin arrives with
// Roles {"admin", "member", "reader"}. Rules such as "role:reader" therefore
// admit admins without any implication logic in the engine.
//
// is_admin mirrors oslo.context, where services derive the flag from the
// context_is_admin rule (role:admin): it is true when the credentials carry the
// admin role.
package policy
