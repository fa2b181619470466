package novaapi

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// interfaceTimeout bounds an attach or detach: allocation, the network
// agent's plug and libvirt's hot-plug.
const interfaceTimeout = 60 * time.Second

// interfaceView is one os-interface attachment, from the network info
// cache.
func interfaceView(p rpc.Port, v Version) gin.H {
	ips := []gin.H{}
	for _, f := range p.FixedIPs {
		ips = append(ips, gin.H{"subnet_id": f.SubnetID, "ip_address": f.Address})
	}
	out := gin.H{"port_id": p.ID, "net_id": p.NetworkID, "mac_addr": p.MAC, "port_state": "ACTIVE", "fixed_ips": ips}
	if v.At(70) {
		out["tag"] = nil
	}
	return out
}

func (s *Service) listInterfaces(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	out := []gin.H{}
	for _, p := range in.NetworkInfo {
		out = append(out, interfaceView(p, v))
	}
	return api.OK(gin.H{"interfaceAttachments": out}), nil
}

func (s *Service) getInterface(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	for _, p := range in.NetworkInfo {
		if p.ID == c.Param("port_id") {
			return api.OK(gin.H{"interfaceAttachment": interfaceView(p, v)}), nil
		}
	}
	return nil, api.NotFound("Port %s is not attached", c.Param("port_id"))
}

// interfaceStates are the vm_states Nova attaches and detaches in.
var interfaceStates = []string{store.VMActive, store.VMPaused, store.VMStopped}

func (s *Service) attachInterface(c *gin.Context, v Version) (*api.Response, error) {
	m, _, err := objectWith(c, "interfaceAttachment", nil, "port_id", "net_id", "fixed_ips", "tag")
	if err != nil {
		return nil, err
	}
	var req work.InterfaceRequest
	if req.PortID, _, err = stringField(m, "port_id", 0, 255); err != nil {
		return nil, err
	}
	if req.NetworkID, _, err = stringField(m, "net_id", 0, 255); err != nil {
		return nil, err
	}
	if req.PortID != "" && req.NetworkID != "" {
		return nil, api.BadRequest("Must not input both network_id and port_id")
	}
	if req.PortID == "" && req.NetworkID == "" {
		return nil, api.BadRequest("Must input network_id or port_id")
	}
	for _, id := range []string{req.PortID, req.NetworkID} {
		if id != "" && uuid.Validate(id) != nil {
			return nil, api.BadRequest("Invalid input for field/attribute interfaceAttachment. Value: %s. '%s' is not a 'uuid'", id, id)
		}
	}
	if raw, ok := m["fixed_ips"]; ok {
		var ips []struct {
			IP string `json:"ip_address"`
		}
		if err := json.Unmarshal(raw, &ips); err != nil || len(ips) != 1 || req.NetworkID == "" {
			return nil, api.BadRequest("Invalid input for field/attribute fixed_ips. Value: %s. Needs one ip_address and a net_id", raw)
		}
		a, err := netip.ParseAddr(ips[0].IP)
		if err != nil {
			return nil, api.BadRequest("Invalid fixed IP address (%s)", ips[0].IP)
		}
		req.FixedIP = a.String()
	}
	in, err := s.interfaceInstance(c, "attach_interface")
	if err != nil {
		return nil, err
	}
	req.InstanceUUID = in.UUID
	rep, err := s.interfaceCall(c, in, req)
	if err != nil {
		return nil, err
	}
	s.action(c, in, "attach_interface")
	return api.OK(gin.H{"interfaceAttachment": interfaceView(rep.Port, v)}), nil
}

func (s *Service) detachInterface(c *gin.Context, _ Version) (*api.Response, error) {
	in, err := s.interfaceInstance(c, "detach_interface")
	if err != nil {
		return nil, err
	}
	port := c.Param("port_id")
	found := false
	for _, p := range in.NetworkInfo {
		found = found || p.ID == port
	}
	if !found {
		return nil, api.NotFound("Port %s is not attached", port)
	}
	if _, err := s.interfaceCall(c, in, work.InterfaceRequest{InstanceUUID: in.UUID, Detach: true, PortID: port}); err != nil {
		return nil, err
	}
	s.action(c, in, "detach_interface")
	return api.Accepted(nil), nil
}

// interfaceInstance loads the server of an attach or detach, which needs
// a host and no task.
func (s *Service) interfaceInstance(c *gin.Context, action string) (store.Instance, error) {
	in, err := s.instance(c)
	if err != nil {
		return in, err
	}
	if err := checkLock(c, in); err != nil {
		return in, err
	}
	if !contains(interfaceStates, in.VMState) || in.TaskState != nil || in.Host == nil {
		return in, conflictState(in, action)
	}
	return in, nil
}

// interfaceCall asks the server's host to attach or detach, mapping the
// network service's errors to Nova's.
func (s *Service) interfaceCall(c *gin.Context, in store.Instance, req work.InterfaceRequest) (work.InterfaceReply, error) {
	if s.bus == nil {
		return work.InterfaceReply{}, api.Unavailable("Could not reach the compute host")
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), interfaceTimeout)
	defer cancel()
	rep, err := bus.Request[work.InterfaceRequest, work.InterfaceReply](ctx, s.bus, work.InterfaceSubject(*in.Host), req)
	var msg string
	if err != nil {
		msg = strings.TrimPrefix(err.Error(), bus.ErrorCode(err)+": ")
	}
	switch {
	case err == nil:
		return rep, nil
	case bus.HasCode(err, bus.CodeNotFound):
		return rep, api.NotFound("%s", msg)
	case bus.HasCode(err, bus.CodeBadRequest):
		return rep, api.BadRequest("%s", msg)
	case bus.HasCode(err, bus.CodeConflict):
		return rep, api.Conflict("%s", msg)
	case bus.HasCode(err, bus.CodeQuotaExceeded):
		return rep, api.Forbidden("%s", msg)
	}
	return rep, api.Internal(err)
}
