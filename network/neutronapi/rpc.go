package neutronapi

import (
	"context"
	"net/netip"
	"sort"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/db"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/network/datapath"
	"github.com/kumo-cloud/kumo/network/store"
)

// createdKey marks, in binding:profile, a port compute had the network
// service create for an instance: it is deleted with the instance, while
// a port the user passed is only unbound.
const createdKey = "kumo_created"

// startRPC serves compute's port requests (internal/rpc) on the bus.
func (s *Service) startRPC() error {
	svc, err := bus.AddService(s.bus, micro.Config{Name: "network-ports", Version: "1.0.0"})
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name, subject string
		h             micro.Handler
	}{
		{"allocate_ports", rpc.SubjAllocatePorts, bus.Handle(s.allocatePorts)},
		{"deallocate_ports", rpc.SubjDeallocatePorts, bus.Handle(s.deallocatePorts)},
		{"instance_ports", rpc.SubjInstancePorts, bus.Handle(s.instancePorts)},
		{"instance_security_groups", rpc.SubjInstanceSecurityGroups, bus.Handle(s.instanceSecurityGroups)},
	} {
		if err := svc.AddEndpoint(e.name, e.h, micro.WithEndpointSubject(e.subject), micro.WithEndpointQueueGroup("network-ports")); err != nil {
			_ = svc.Stop()
			return err
		}
	}
	s.rpc = svc
	return nil
}

// allocatePorts creates or takes over the ports of an instance and binds
// them to its host. A retry for the same device returns its ports.
func (s *Service) allocatePorts(ctx context.Context, req rpc.AllocatePortsRequest) (rpc.AllocatePortsReply, error) {
	if uuid.Validate(req.DeviceID) != nil || req.ProjectID == "" {
		return rpc.AllocatePortsReply{}, bus.Errorf(bus.CodeBadRequest, "allocate ports: need a device UUID and a project")
	}
	owner := "compute:" + req.Zone
	if req.Zone == "" {
		owner = "compute:nova"
	}
	k := caller{project: req.ProjectID}
	var ids []string
	var created []*store.Port
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.Lock(ctx, "device."+req.DeviceID); err != nil {
			return api.Internal(err)
		}
		have, err := devicePorts(ctx, tx, req.DeviceID)
		if err != nil {
			return err
		}
		if len(have) > 0 && !req.Attach {
			for _, p := range have {
				ids = append(ids, p.ID)
			}
			return nil
		}
		reqs := req.Requests
		if req.Auto {
			n, err := autoNetwork(ctx, tx, req.ProjectID)
			if err != nil {
				return err
			}
			reqs = []rpc.NetworkRequest{{NetworkID: n}}
		}
		sgs, err := groupIDs(ctx, tx, s, req.ProjectID, req.SecurityGroups)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.PortID != "" {
				p, err := s.visiblePort(ctx, tx, k, r.PortID, true)
				if err != nil || p.ProjectID != req.ProjectID {
					return portNotFound(r.PortID)
				}
				if p.DeviceID != "" && p.DeviceID != req.DeviceID {
					return conflict("PortInUse", "Port %s is still in use.", p.ID)
				}
				if p.DeviceID == req.DeviceID {
					ids = append(ids, p.ID)
					continue
				}
				p.DeviceID, p.DeviceOwner, p.BindingHostID = req.DeviceID, owner, req.Host
				if err := tx.Update(ctx, p); err != nil {
					return api.Internal(err)
				}
				ids = append(ids, p.ID)
				continue
			}
			n, err := s.visibleNetwork(ctx, tx, k, r.NetworkID, true)
			if err != nil {
				return err
			}
			if n.ProjectID != req.ProjectID && !n.Shared {
				return networkNotFound(r.NetworkID)
			}
			p := &store.Port{Meta: store.Meta{ID: uuid.NewString(), ProjectID: req.ProjectID}, NetworkID: n.ID,
				AdminStateUp: true, Status: "DOWN", BindingVNICType: "normal", DeviceID: req.DeviceID,
				DeviceOwner: owner, BindingHostID: req.Host}
			p.BindingProfile.V = map[string]any{createdKey: true}
			spec := portSpec{port: p}
			if len(sgs) > 0 {
				p.SecurityGroups, spec.sgSet = db.TextArray(sgs), true
			}
			if r.FixedIP != "" {
				if _, err := netip.ParseAddr(r.FixedIP); err != nil {
					return badRequest("Invalid fixed IP address (%s)", r.FixedIP)
				}
				spec.fixed = []fixedIP{{IPAddress: r.FixedIP}}
			}
			if err := s.insertPort(ctx, tx, n, spec); err != nil {
				return err
			}
			created = append(created, p)
			ids = append(ids, p.ID)
		}
		return nil
	})
	if err != nil {
		return rpc.AllocatePortsReply{}, api.BusError(err)
	}
	for _, p := range created {
		s.publish(ctx, "port", "create", p.ID, p.ProjectID, map[string]any{"id": p.ID, "device_id": p.DeviceID})
	}
	ports, err := s.describePorts(ctx, ids)
	return rpc.AllocatePortsReply{Ports: ports}, api.BusError(err)
}

// devicePorts lists the ports of a device in creation order.
func devicePorts(ctx context.Context, tx *store.Store, device string) ([]store.Port, error) {
	rows, err := store.List[store.Port](ctx, tx, "device_id = ?", device)
	if err != nil {
		return nil, api.Internal(err)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].CreatedAt.Before(rows[j].CreatedAt) })
	return rows, nil
}

// autoNetwork is Nova's "auto": the project's one non-external network,
// or else the one shared network.
func autoNetwork(ctx context.Context, tx *store.Store, project string) (string, error) {
	for _, where := range []string{"project_id = ? AND NOT external", "shared AND NOT external AND project_id <> ?"} {
		nets, err := store.List[store.Network](ctx, tx, where, project)
		if err != nil {
			return "", api.Internal(err)
		}
		if len(nets) == 1 {
			return nets[0].ID, nil
		}
		if len(nets) > 1 {
			return "", conflict("NetworkAmbiguous", "Multiple possible networks found, use a Network ID to be more specific.")
		}
	}
	return "", conflict("UnableToAutoAllocateNetwork", "Unable to automatically allocate a network for project %s", project)
}

// groupIDs resolves security group names or IDs of a project.
func groupIDs(ctx context.Context, tx *store.Store, s *Service, project string, groups []string) ([]string, error) {
	var out []string
	for _, g := range groups {
		sg, err := projectGroup(ctx, tx, s, project, g)
		if err != nil {
			return nil, err
		}
		out = append(out, sg.ID)
	}
	return dedup(out), nil
}

// projectGroup finds a security group of project by ID or name.
func projectGroup(ctx context.Context, tx *store.Store, s *Service, project, g string) (*store.SecurityGroup, error) {
	if g == "default" {
		return s.ensureDefaultGroup(ctx, tx, project)
	}
	where, arg := "project_id = ? AND name = ?", g
	if uuid.Validate(g) == nil {
		where = "project_id = ? AND (id = ? OR name = ?)"
	}
	var rows []store.SecurityGroup
	var err error
	if uuid.Validate(g) == nil {
		rows, err = store.List[store.SecurityGroup](ctx, tx, where, project, arg, arg)
	} else {
		rows, err = store.List[store.SecurityGroup](ctx, tx, where, project, arg)
	}
	if err != nil {
		return nil, api.Internal(err)
	}
	switch len(rows) {
	case 0:
		return nil, securityGroupNotFound(g)
	case 1:
		return &rows[0], nil
	}
	return nil, conflict("DuplicateSecurityGroupName", "Multiple security_group matches found for name '%s', use an ID to be more specific.", g)
}

// describePorts renders ports for compute, in the order of ids.
func (s *Service) describePorts(ctx context.Context, ids []string) ([]rpc.Port, error) {
	out := []rpc.Port{}
	allocs, err := s.store.PortAllocations(ctx, ids)
	if err != nil {
		return nil, api.Internal(err)
	}
	subnets := map[string]*store.Subnet{}
	nets := map[string]*store.Network{}
	for _, id := range ids {
		p, err := store.Get[store.Port](ctx, s.store, id, false)
		if err != nil {
			return nil, storeError(err, portNotFound, id)
		}
		n, ok := nets[p.NetworkID]
		if !ok {
			if n, err = store.Get[store.Network](ctx, s.store, p.NetworkID, false); err != nil {
				return nil, storeError(err, networkNotFound, p.NetworkID)
			}
			nets[p.NetworkID] = n
		}
		rp := rpc.Port{ID: p.ID, NetworkID: n.ID, NetworkName: n.Name, MAC: p.MACAddress, MTU: n.MTU,
			Bridge: datapath.BridgeName(n.ID), Tap: datapath.TapName(p.ID), Created: p.BindingProfile.V[createdKey] == true,
			FixedIPs: []rpc.FixedIP{}}
		for _, a := range allocs[p.ID] {
			sn, ok := subnets[a.SubnetID]
			if !ok {
				if sn, err = store.Get[store.Subnet](ctx, s.store, a.SubnetID, false); err != nil {
					return nil, storeError(err, subnetNotFound, a.SubnetID)
				}
				subnets[a.SubnetID] = sn
			}
			f := rpc.FixedIP{SubnetID: sn.ID, Address: a.IPAddress, Version: sn.IPVersion, CIDR: sn.CIDR,
				DNS: sn.DNSNameservers.V, DHCP: sn.EnableDHCP}
			if sn.GatewayIP != nil {
				f.Gateway = *sn.GatewayIP
			}
			for _, r := range sn.HostRoutes.V {
				f.HostRoute = append(f.HostRoute, rpc.Route{Destination: r.Destination, NextHop: r.NextHop})
			}
			rp.FixedIPs = append(rp.FixedIPs, f)
		}
		fips, err := store.List[store.FloatingIP](ctx, s.store, "port_id = ?", p.ID)
		if err != nil {
			return nil, api.Internal(err)
		}
		for _, f := range fips {
			rp.FloatingIPs = append(rp.FloatingIPs, f.FloatingIPAddress)
		}
		out = append(out, rp)
	}
	return out, nil
}

// deallocatePorts deletes the ports made for an instance and unbinds the
// ones the user passed.
func (s *Service) deallocatePorts(ctx context.Context, req rpc.DeallocatePortsRequest) (rpc.DeallocatePortsReply, error) {
	var rep rpc.DeallocatePortsReply
	var gone []store.Port
	if uuid.Validate(req.DeviceID) != nil {
		return rep, bus.Errorf(bus.CodeBadRequest, "deallocate ports: device %q is not a UUID", req.DeviceID)
	}
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.Lock(ctx, "device."+req.DeviceID); err != nil {
			return api.Internal(err)
		}
		rows, err := devicePorts(ctx, tx, req.DeviceID)
		if err != nil {
			return err
		}
		for i := range rows {
			p := &rows[i]
			if req.ProjectID != "" && p.ProjectID != req.ProjectID || req.PortID != "" && p.ID != req.PortID {
				continue
			}
			if p.BindingProfile.V[createdKey] == true {
				if err := s.removePort(ctx, tx, p); err != nil {
					return err
				}
				rep.Deleted++
				gone = append(gone, *p)
				continue
			}
			p.DeviceID, p.DeviceOwner, p.BindingHostID, p.Status = "", "", "", "DOWN"
			if err := tx.Update(ctx, p); err != nil {
				return api.Internal(err)
			}
			rep.Unbound++
		}
		return nil
	})
	if err != nil {
		return rpc.DeallocatePortsReply{}, api.BusError(err)
	}
	for _, p := range gone {
		s.publish(ctx, "port", "delete", p.ID, p.ProjectID, nil)
	}
	return rep, nil
}

// instancePorts lists an instance's ports.
func (s *Service) instancePorts(ctx context.Context, req rpc.InstancePortsRequest) (rpc.AllocatePortsReply, error) {
	if uuid.Validate(req.DeviceID) != nil {
		return rpc.AllocatePortsReply{Ports: []rpc.Port{}}, nil
	}
	rows, err := devicePorts(ctx, s.store, req.DeviceID)
	if err != nil {
		return rpc.AllocatePortsReply{}, api.BusError(err)
	}
	ids := make([]string, len(rows))
	for i, p := range rows {
		ids[i] = p.ID
	}
	ports, err := s.describePorts(ctx, ids)
	return rpc.AllocatePortsReply{Ports: ports}, api.BusError(err)
}

// instanceSecurityGroups adds or removes a group on every port of an
// instance (Nova's addSecurityGroup / removeSecurityGroup).
func (s *Service) instanceSecurityGroups(ctx context.Context, req rpc.SecurityGroupRequest) (rpc.SecurityGroupReply, error) {
	var changed []string
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		g, err := projectGroup(ctx, tx, s, req.ProjectID, req.Group)
		if err != nil {
			return err
		}
		rows, err := devicePorts(ctx, tx, req.DeviceID)
		if err != nil {
			return err
		}
		found := false
		for i := range rows {
			p := &rows[i]
			has := false
			var keep db.TextArray
			for _, id := range p.SecurityGroups {
				if id == g.ID {
					has = true
				} else {
					keep = append(keep, id)
				}
			}
			found = found || has
			switch {
			case req.Remove && has:
				p.SecurityGroups = keep
			case !req.Remove && !has:
				if !p.PortSecurityEnabled {
					return conflict("PortSecurityAndIPRequiredForSecurityGroups", "Port security must be enabled and port must have an IP address in order to use security groups.")
				}
				p.SecurityGroups = append(p.SecurityGroups, g.ID)
			default:
				continue
			}
			if p.SecurityGroups == nil {
				p.SecurityGroups = db.TextArray{}
			}
			if err := tx.Update(ctx, p); err != nil {
				return api.Internal(err)
			}
			changed = append(changed, p.ID)
		}
		if req.Remove && !found && len(rows) > 0 {
			return notFound("SecurityGroupNotFound", "Security group %s not associated with the instance %s", req.Group, req.DeviceID)
		}
		if !req.Remove && found && len(changed) == 0 {
			return conflict("SecurityGroupExists", "Security group %s is already associated with the instance %s", req.Group, req.DeviceID)
		}
		return nil
	})
	if err != nil {
		return rpc.SecurityGroupReply{}, api.BusError(err)
	}
	for _, id := range changed {
		s.publish(ctx, "port", "update", id, req.ProjectID, map[string]any{"id": id})
	}
	return rpc.SecurityGroupReply{}, nil
}
