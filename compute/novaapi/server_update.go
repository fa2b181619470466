package novaapi

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
)

// hostnamePattern is Nova's hostname parameter (2.90): RFC 1123 labels of
// at most 63 characters, joined by dots.
var hostnamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// serverName reads a server name as Nova's schema does: 1-255 characters,
// no leading or trailing whitespace.
func serverName(m map[string]json.RawMessage) (string, bool, error) {
	name, ok, err := stringField(m, "name", 1, 255)
	if err == nil && ok && strings.TrimSpace(name) != name {
		err = api.BadRequest("Invalid input for field/attribute name. Value: %s. %q does not match '^(?![\\s])[\\S\\s]*(?<![\\s])$'", name, name)
	}
	return name, ok, err
}

// descriptionField reads a description (2.19): null or at most 255
// printable characters.
func descriptionField(m map[string]json.RawMessage) (*string, bool, error) {
	raw, ok := m["description"]
	if !ok {
		return nil, false, nil
	}
	if isNull(raw) {
		return nil, true, nil
	}
	d, _, err := stringField(m, "description", 0, 255)
	if err != nil {
		return nil, true, err
	}
	for _, r := range d {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return nil, true, api.BadRequest("Invalid input for field/attribute description. Value: %s. %s does not match the printable characters pattern", raw, raw)
		}
	}
	return &d, true, nil
}

func hostnameField(m map[string]json.RawMessage) (string, bool, error) {
	h, ok, err := stringField(m, "hostname", 1, 255)
	if err == nil && ok && !hostnamePattern.MatchString(h) {
		err = api.BadRequest("Invalid input for field/attribute hostname. Value: %s. '%s' does not match the hostname pattern", h, h)
	}
	return h, ok, err
}

// updateServer is PUT /servers/{id}: name, description (2.19) and
// hostname (2.90).
func (s *Service) updateServer(c *gin.Context, v Version) (*api.Response, error) {
	allowed := []string{"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
	if v.At(19) {
		allowed = append(allowed, "description")
	}
	if v.At(90) {
		allowed = append(allowed, "hostname")
	}
	m, err := object(c, "server", allowed...)
	if err != nil {
		return nil, err
	}
	cols := map[string]any{}
	if name, ok, err := serverName(m); err != nil {
		return nil, err
	} else if ok {
		cols["name"] = name
	}
	if d, ok, err := descriptionField(m); err != nil {
		return nil, err
	} else if ok {
		cols["description"] = d
	}
	if h, ok, err := hostnameField(m); err != nil {
		return nil, err
	} else if ok {
		cols["hostname"] = h
	}
	for _, k := range []string{"accessIPv4", "accessIPv6"} {
		if _, _, err := stringField(m, k, 0, 255); err != nil {
			return nil, err
		}
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if len(cols) > 0 {
		if err := s.store.UpdateInstance(c.Request.Context(), in.UUID, cols); err != nil {
			return nil, err
		}
		if in, err = s.instance(c); err != nil {
			return nil, err
		}
	}
	view := s.serverView(c, in, v)
	if err := s.withVolumes(c, view, in.UUID, v); err != nil {
		return nil, err
	}
	if v.At(71) {
		view["server_groups"] = s.groupsOf(c, in.UUID)
	}
	return api.OK(gin.H{"server": view}), nil
}

// checkLock refuses changes to a locked server, except by admins, as
// Nova's check_instance_lock does.
func checkLock(c *gin.Context, in store.Instance) error {
	if in.Locked && !isAdmin(c) {
		return api.Conflict("Instance %s is locked", in.UUID)
	}
	return nil
}

// lockAction is the lock and unlock server actions.
func (s *Service) lockAction(c *gin.Context, v Version, name string, arg json.RawMessage) (*api.Response, error) {
	rule := "os_compute_api:os-lock-server:" + name
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	cl := api.Claims(c)
	ctx := c.Request.Context()
	if name == "unlock" {
		// Only the owner may unlock what the owner locked; an admin's lock
		// is for admins to lift (os-lock-server:unlock:unlock_override).
		if in.Locked && in.LockedBy != nil && *in.LockedBy == "admin" && !isAdmin(c) {
			return nil, api.Forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.")
		}
		if err := s.store.UpdateInstance(ctx, in.UUID, map[string]any{"locked": false, "locked_by": nil, "locked_reason": nil}); err != nil {
			return nil, err
		}
		s.action(c, in, "unlock")
		return api.Accepted(nil), nil
	}
	var reason *string
	if !isNull(arg) {
		var body map[string]json.RawMessage
		if err := json.Unmarshal(arg, &body); err != nil {
			return nil, api.BadRequest("Invalid input for field/attribute lock. Value: %s. %s is not of type 'object', 'null'", arg, arg)
		}
		for k := range body {
			if k != "locked_reason" || !v.At(73) {
				return nil, api.BadRequest("Invalid input for field/attribute lock. Additional properties are not allowed ('%s' was unexpected)", k)
			}
		}
		if r, ok, err := stringField(body, "locked_reason", 0, 255); err != nil {
			return nil, err
		} else if ok {
			reason = &r
		}
	}
	by := "owner"
	if in.ProjectID != cl.ProjectID {
		by = "admin"
	}
	if err := s.store.UpdateInstance(ctx, in.UUID, map[string]any{"locked": true, "locked_by": by, "locked_reason": reason}); err != nil {
		return nil, err
	}
	s.action(c, in, "lock")
	return api.Accepted(nil), nil
}

// changePassword needs a guest agent kumo's guests do not run, so it is
// refused as Nova with libvirt refuses it without the QEMU guest agent.
func (s *Service) changePassword(c *gin.Context, _ Version, _ string, arg json.RawMessage) (*api.Response, error) {
	rule := "os_compute_api:os-admin-password"
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(arg, &body); err != nil || body == nil {
		return nil, api.BadRequest("Invalid input for field/attribute changePassword. Value: %s. %s is not of type 'object'", arg, arg)
	}
	for k := range body {
		if k != "adminPass" {
			return nil, api.BadRequest("Invalid input for field/attribute changePassword. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	if _, ok, err := stringField(body, "adminPass", 0, 255); err != nil {
		return nil, err
	} else if !ok {
		return nil, api.BadRequest("Invalid input for field/attribute changePassword. Value: %s. 'adminPass' is a required property", arg)
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if err := checkLock(c, in); err != nil {
		return nil, err
	}
	if in.VMState != store.VMActive || in.TaskState != nil {
		return nil, conflictState(in, "changePassword")
	}
	return nil, api.Conflict("QEMU guest agent is not enabled")
}

// serverActions are the server actions served outside the power table.
func (s *Service) serverActions() map[string]func(*gin.Context, Version, string, json.RawMessage) (*api.Response, error) {
	return map[string]func(*gin.Context, Version, string, json.RawMessage) (*api.Response, error){
		"lock":           s.lockAction,
		"unlock":         s.lockAction,
		"changePassword": s.changePassword,
		// server_security_groups.go
		"addSecurityGroup":    s.securityGroupAction,
		"removeSecurityGroup": s.securityGroupAction,
	}
}
