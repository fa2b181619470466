package novaapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kumo-cloud/kumo/api"
	pstore "github.com/kumo-cloud/kumo/compute/placement/store"
	"github.com/kumo-cloud/kumo/compute/scheduler"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
)

// serverTime is how Nova renders created/updated and fault times.
const serverTime = "2006-01-02T15:04:05Z"

// statusMap is Nova's vm_state/task_state → status table
// (nova/api/openstack/common.py); "" is the vm_state's default.
var statusMap = map[string]map[string]string{
	store.VMActive: {"": "ACTIVE", store.TaskRebooting: "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
		store.TaskRebootingHard: "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT", "reboot_started_hard": "HARD_REBOOT",
		"updating_password": "PASSWORD", "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD",
		"rebuild_spawning": "REBUILD", "migrating": "MIGRATING", "resize_prep": "RESIZE", "resize_migrating": "RESIZE",
		"resize_migrated": "RESIZE", "resize_finish": "RESIZE"},
	store.VMBuilding:    {"": "BUILD"},
	store.VMStopped:     {"": "SHUTOFF", "resize_prep": "RESIZE", "resize_migrating": "RESIZE", "resize_migrated": "RESIZE", "resize_finish": "RESIZE", "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD"},
	"resized":           {"": "VERIFY_RESIZE", "resize_reverting": "REVERT_RESIZE"},
	store.VMPaused:      {"": "PAUSED", "migrating": "MIGRATING"},
	store.VMSuspended:   {"": "SUSPENDED"},
	"rescued":           {"": "RESCUE"},
	store.VMError:       {"": "ERROR", "rebuilding": "REBUILD", "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD"},
	store.VMDeleted:     {"": "DELETED"},
	"soft-delete":       {"": "SOFT_DELETED"},
	"shelved":           {"": "SHELVED"},
	"shelved_offloaded": {"": "SHELVED_OFFLOADED"},
}

// serverStatus maps an instance's states to Nova's status.
func serverStatus(vm string, task *string) string {
	m, ok := statusMap[vm]
	if !ok {
		return "UNKNOWN"
	}
	if task != nil {
		if s, ok := m[*task]; ok {
			return s
		}
	}
	return m[""]
}

// vmStatesOf is the reverse of statusMap's defaults, for the status filter.
func vmStatesOf(status string) []string {
	var out []string
	for vm, m := range statusMap {
		if m[""] == status {
			out = append(out, vm)
		}
	}
	return out
}

func strPtr(s string) *string { return &s }

// instanceName is the libvirt domain name of an instance.
func instanceName(id string) string { return "instance-" + id }

func hostID(project string, host *string) string {
	if host == nil || *host == "" {
		return ""
	}
	sum := sha256.Sum224([]byte(project + *host))
	return hex.EncodeToString(sum[:])
}

func novaTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(novaTime)
}

// serverView renders an instance as GET /servers/{id} does at v.
func (s *Service) serverView(c *gin.Context, in store.Instance, v Version) gin.H {
	admin := isAdmin(c)
	updated := in.CreatedAt
	if in.UpdatedAt != nil {
		updated = *in.UpdatedAt
	}
	meta := in.Metadata
	if meta == nil {
		meta = store.Specs{}
	}
	out := gin.H{
		"id": in.UUID, "name": in.Name, "status": serverStatus(in.VMState, in.TaskState),
		"tenant_id": in.ProjectID, "user_id": in.UserID, "metadata": meta,
		"hostId": hostID(in.ProjectID, in.Host), "created": in.CreatedAt.UTC().Format(serverTime),
		"updated": updated.UTC().Format(serverTime), "addresses": addressesView(in.NetworkInfo),
		"accessIPv4": "", "accessIPv6": "", "links": s.link("/servers/" + in.UUID),
		"OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": in.AvailabilityZone,
		"key_name": in.KeyName, "OS-SRV-USG:launched_at": novaTimePtr(in.LaunchedAt),
		"OS-SRV-USG:terminated_at": novaTimePtr(in.TerminatedAt),
		"OS-EXT-STS:vm_state":      in.VMState, "OS-EXT-STS:task_state": in.TaskState,
		"OS-EXT-STS:power_state":               in.PowerState,
		"os-extended-volumes:volumes_attached": []any{},
		"config_drive":                         "",
	}
	if in.ConfigDrive {
		out["config_drive"] = "True"
	}
	if in.RequestedNetworks != nil && in.RequestedNetworks.Mode != store.NetworksNone {
		out["security_groups"] = groupsView(in.RequestedNetworks.SecurityGroups)
	}
	if in.ImageRef != "" {
		out["image"] = gin.H{"id": in.ImageRef, "links": []gin.H{{"rel": "bookmark", "href": s.cfg.PublicURL + "/images/" + in.ImageRef}}}
	} else {
		out["image"] = ""
	}
	if v.At(47) {
		specs := in.FlavorExtraSpecs
		if specs == nil {
			specs = store.Specs{}
		}
		out["flavor"] = gin.H{"vcpus": in.VCPUs, "ram": in.MemoryMB, "disk": in.RootGB, "ephemeral": in.EphemeralGB,
			"swap": in.Swap, "original_name": in.FlavorName, "extra_specs": specs}
	} else {
		out["flavor"] = gin.H{"id": in.FlavorID, "links": []gin.H{{"rel": "bookmark", "href": s.cfg.PublicURL + Prefix + "/flavors/" + in.FlavorID}}}
	}
	switch in.VMState {
	case store.VMActive:
		out["progress"] = 100
	case store.VMBuilding:
		out["progress"] = 0
	}
	if admin {
		host := ""
		if in.Host != nil {
			host = *in.Host
		}
		out["OS-EXT-SRV-ATTR:host"] = nilIfEmpty(host)
		out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nilIfEmpty(host)
		out["OS-EXT-SRV-ATTR:instance_name"] = instanceName(in.UUID)
		if v.At(3) {
			out["OS-EXT-SRV-ATTR:hostname"] = serverHostname(in)
			out["OS-EXT-SRV-ATTR:reservation_id"] = in.ReservationID
			out["OS-EXT-SRV-ATTR:launch_index"] = in.LaunchIndex
			out["OS-EXT-SRV-ATTR:kernel_id"] = ""
			out["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
			out["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
			out["OS-EXT-SRV-ATTR:user_data"] = in.UserData
		}
	}
	if v.At(9) {
		out["locked"] = in.Locked
	}
	if v.At(19) {
		out["description"] = in.Description
	}
	if v.At(26) {
		out["tags"] = tagsOf(in)
	}
	if v.At(73) {
		out["locked_reason"] = in.LockedReason
	}
	if v.At(90) && !admin {
		out["OS-EXT-SRV-ATTR:hostname"] = serverHostname(in)
	}
	if in.VMState == store.VMError && in.Fault != nil {
		f := gin.H{"code": in.Fault.Code, "message": in.Fault.Message, "created": in.Fault.Created.UTC().Format(serverTime)}
		if admin || in.Fault.Code != 500 {
			f["details"] = in.Fault.Details
		}
		out["fault"] = f
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func hostnameOf(name string) string { return work.Hostname(name) }

// serverHostname is the hostname set with 2.90, or the one derived from
// the name.
func serverHostname(in store.Instance) string {
	if in.Hostname != nil && *in.Hostname != "" {
		return *in.Hostname
	}
	return hostnameOf(in.Name)
}

// instance loads a server the caller may see: another project's server is
// not found, unless the caller is an admin.
func (s *Service) instance(c *gin.Context) (store.Instance, error) {
	id := c.Param("server_id")
	in, err := s.store.GetInstance(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && in.ProjectID != api.Claims(c).ProjectID && !isAdmin(c)) {
		return store.Instance{}, api.NotFound("Instance %s could not be found.", id)
	}
	return in, err
}

func (s *Service) getServer(c *gin.Context, v Version) (*api.Response, error) {
	in, err := s.instance(c)
	if err != nil {
		return nil, err
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

func (s *Service) listServers(c *gin.Context, v Version) (*api.Response, error) {
	return s.serverList(c, v, false)
}

func (s *Service) listServersDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.serverList(c, v, true)
}

func (s *Service) serverList(c *gin.Context, v Version, detail bool) (*api.Response, error) {
	q := c.Request.URL.Query()
	limit, marker, err := pageParams(q)
	if err != nil {
		return nil, err
	}
	f := store.InstanceFilter{Project: api.Claims(c).ProjectID, Marker: marker, Limit: limit, NameRegex: q.Get("name")}
	if f.NameRegex != "" {
		if _, err := regexp.Compile(f.NameRegex); err != nil {
			return nil, api.BadRequest("Invalid filter name: %s", f.NameRegex)
		}
	}
	if all, given := q["all_tenants"]; given {
		on, ok := parseBool(all[len(all)-1])
		if all[len(all)-1] == "" {
			on, ok = true, true
		}
		if !ok {
			return nil, api.BadRequest("Invalid input for field/attribute all_tenants.")
		}
		if on {
			rule := "os_compute_api:servers:index:get_all_tenants"
			if detail {
				rule = "os_compute_api:servers:detail:get_all_tenants"
			}
			if !api.Allowed(c, rule, s.target(c)) {
				return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
			}
			f.AllProjects = true
			if p := q.Get("project_id"); p != "" {
				f.AllProjects, f.Project = false, p
			} else if p := q.Get("tenant_id"); p != "" {
				f.AllProjects, f.Project = false, p
			}
		}
	}
	if h := q.Get("host"); h != "" && isAdmin(c) {
		f.Host = h
	}
	// Only admins see user_data, in detail from 2.3.
	f.WithoutUserData = !detail || !v.At(3) || !isAdmin(c)
	if err := listFilters(c, v, q, &f); err != nil {
		return nil, err
	}
	if st := q.Get("status"); st != "" {
		f.VMStates = vmStatesOf(strings.ToUpper(st))
		if len(f.VMStates) == 0 {
			return api.OK(gin.H{"servers": []any{}}), nil
		}
	}
	ins, err := s.store.ListInstances(c.Request.Context(), f)
	if errors.Is(err, store.ErrInvalid) && marker != "" {
		return nil, api.BadRequest("marker [%s] not found", marker)
	}
	if err != nil {
		return nil, err
	}
	list := make([]gin.H, 0, len(ins))
	var bdms map[string][]store.BDM
	if detail {
		ids := make([]string, len(ins))
		for i, in := range ins {
			ids[i] = in.UUID
		}
		if bdms, err = s.store.BDMsOf(c.Request.Context(), ids); err != nil {
			return nil, err
		}
	}
	for _, in := range ins {
		if detail {
			view := s.serverView(c, in, v)
			view["os-extended-volumes:volumes_attached"] = volumesAttachedView(bdms[in.UUID], v)
			list = append(list, view)
		} else {
			list = append(list, gin.H{"id": in.UUID, "name": in.Name, "links": s.link("/servers/" + in.UUID)})
		}
	}
	out := gin.H{"servers": list}
	if _, given := q["limit"]; given && len(ins) == limit && limit > 0 {
		path := "/servers"
		if detail {
			path += "/detail"
		}
		out["servers_links"] = nextLink(s.cfg.PublicURL+Prefix+"/v2.1"+path, q, ins[len(ins)-1].UUID)
	}
	return okJSON(out)
}

// serverRequest is a validated POST /servers body.
type serverRequest struct {
	name, imageRef, flavorRef, keyName, userData, zone, adminPass string
	metadata                                                      store.Specs
	configDrive                                                   bool
	description                                                   *string
	hostname                                                      string
	tags                                                          []string
	// minCount..maxCount servers are created (multi-create).
	minCount, maxCount int
	returnReservation  bool
	// group is the server group of the os:scheduler_hints.
	group string
	// networks are the requested networks and security groups.
	networks *store.RequestedNetworks
	// bdms are the block_device_mapping_v2 entries.
	bdms []bdmRequest
}

var serverFields = []string{"name", "imageRef", "flavorRef", "networks", "key_name", "user_data", "metadata",
	"config_drive", "availability_zone", "min_count", "max_count", "return_reservation_id", "adminPass",
	"security_groups", "OS-DCF:diskConfig", "description", "accessIPv4", "accessIPv6", "hostname",
	"block_device_mapping_v2"}

func parseServer(c *gin.Context, v Version) (serverRequest, error) {
	var r serverRequest
	allowed := serverFields
	if v.At(52) {
		allowed = append(slices.Clone(serverFields), "tags")
	}
	m, outer, err := objectWith(c, "server", []string{"os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"}, allowed...)
	if err != nil {
		return r, err
	}
	if err := parseHints(outer, &r); err != nil {
		return r, err
	}
	name, ok, err := serverName(m)
	if err != nil {
		return r, err
	}
	if !ok {
		return r, api.BadRequest("Invalid input for field/attribute server. Value: %s. 'name' is a required property", compact(m))
	}
	r.name = name
	if r.imageRef, _, err = stringField(m, "imageRef", 0, 255); err != nil {
		return r, err
	}
	if raw, given := m["block_device_mapping_v2"]; given && !isNull(raw) {
		if r.bdms, err = parseBDMs(raw, v); err != nil {
			return r, err
		}
	}
	_, bfv := bootVolume(r.bdms)
	for _, b := range r.bdms {
		// An image mapped to the local root disk is the imageRef.
		if b.destinationType == store.DestinationLocal && r.imageRef == "" {
			r.imageRef = b.uuid
		}
	}
	if bfv {
		// The boot volume is the root disk; imageRef is not used.
		r.imageRef = ""
	} else if r.imageRef == "" {
		return r, api.BadRequest("Block Device Mapping is Invalid: You specified more local devices than the limit allows")
	} else if _, err := uuid.Parse(r.imageRef); err != nil {
		return r, api.BadRequest("Invalid imageRef provided.")
	}
	flavorRef, ok, err := stringField(m, "flavorRef", 1, 255)
	if err != nil {
		if n, ierr := intField(m, "flavorRef", 0, 0); ierr == nil {
			flavorRef, ok, err = fmt.Sprint(n), true, nil
		}
	}
	if err != nil {
		return r, err
	}
	if !ok {
		return r, api.BadRequest("Invalid input for field/attribute server. Value: %s. 'flavorRef' is a required property", compact(m))
	}
	if i := strings.LastIndex(flavorRef, "/"); i >= 0 {
		flavorRef = flavorRef[i+1:]
	}
	r.flavorRef = flavorRef
	if r.networks, err = parseNetworks(m, v); err != nil {
		return r, err
	}
	if r.keyName, _, err = stringField(m, "key_name", 1, 255); err != nil {
		return r, err
	}
	if r.userData, _, err = stringField(m, "user_data", 0, 65535); err != nil {
		return r, err
	}
	if r.userData != "" {
		if _, err := base64.StdEncoding.DecodeString(r.userData); err != nil {
			return r, api.BadRequest("User data needs to be valid base 64.")
		}
	}
	if raw, given := m["metadata"]; given && !isNull(raw) {
		if r.metadata, err = parseMetadata("metadata", raw); err != nil {
			return r, err
		}
	}
	if r.configDrive, err = boolField(m, "config_drive", false); err != nil {
		return r, err
	}
	if r.zone, _, err = stringField(m, "availability_zone", 1, 255); err != nil {
		return r, err
	}
	if err := parseCounts(m, &r); err != nil {
		return r, err
	}
	if _, given := m["description"]; given && !v.At(19) {
		return r, api.BadRequest("Invalid input for field/attribute server. Additional properties are not allowed ('description' was unexpected)")
	}
	if r.description, _, err = descriptionField(m); err != nil {
		return r, err
	}
	if _, given := m["hostname"]; given && !v.At(90) {
		return r, api.BadRequest("Invalid input for field/attribute server. Additional properties are not allowed ('hostname' was unexpected)")
	}
	if r.hostname, _, err = hostnameField(m); err != nil {
		return r, err
	}
	if raw, given := m["tags"]; given {
		if r.tags, err = parseTags("tags", raw); err != nil {
			return r, err
		}
	}
	if r.adminPass, _, err = stringField(m, "adminPass", 0, 255); err != nil {
		return r, err
	}
	return r, nil
}

func randomPassword() string {
	const chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		b[i] = chars[n.Int64()]
	}
	return string(b)
}

// resourcesOf is what an instance claims in placement: DISK_GB counts the
// root, ephemeral and swap disks (swap in MiB rounded up), as in Nova.
func resourcesOf(in store.Instance) map[string]int64 {
	out := map[string]int64{"VCPU": int64(in.VCPUs), "MEMORY_MB": int64(in.MemoryMB)}
	if d := int64(in.RootGB + in.EphemeralGB + (in.Swap+1023)/1024); d > 0 {
		out["DISK_GB"] = d
	}
	return out
}

func quotaOf(in store.Instance) map[string]int64 { return store.InstanceQuota(in) }

func (s *Service) createServer(c *gin.Context, v Version) (*api.Response, error) {
	ctx := c.Request.Context()
	cl := api.Claims(c)
	r, err := parseServer(c, v)
	if err != nil {
		return nil, err
	}
	fl, err := s.store.GetFlavor(ctx, r.flavorRef, s.visibility(c))
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.BadRequest("Flavor %s could not be found.", r.flavorRef)
	}
	if err != nil {
		return nil, err
	}
	if fl.Disabled {
		return nil, api.BadRequest("Flavor %s is disabled.", r.flavorRef)
	}
	if r.zone != "" && r.zone != s.cfg.Zone {
		return nil, api.BadRequest("The requested availability zone is not available")
	}
	if r.imageRef != "" {
		if _, err := s.bootImage(c, r.imageRef, fl.RootGB, fl.MemoryMB, false); err != nil {
			return nil, err
		}
	}
	if err := s.checkBDMs(c, r.bdms, r.maxCount); err != nil {
		return nil, err
	}
	in := store.Instance{
		UUID: uuid.NewString(), Name: r.name, ProjectID: cl.ProjectID, UserID: cl.UserID, ImageRef: r.imageRef,
		FlavorID: fl.FlavorID, FlavorName: fl.Name, VCPUs: fl.VCPUs, MemoryMB: fl.MemoryMB, RootGB: fl.RootGB,
		EphemeralGB: fl.EphemeralGB, Swap: fl.Swap, FlavorExtraSpecs: fl.ExtraSpecs, Metadata: r.metadata,
		VMState: store.VMBuilding, TaskState: strPtr(store.TaskScheduling), ConfigDrive: r.configDrive,
		AvailabilityZone: s.cfg.Zone,
	}
	if in.Metadata == nil {
		in.Metadata = store.Specs{}
	}
	if in.FlavorExtraSpecs == nil {
		in.FlavorExtraSpecs = store.Specs{}
	}
	if r.keyName != "" {
		k, err := s.store.GetKeyPair(ctx, cl.UserID, r.keyName)
		if errors.Is(err, store.ErrNotFound) {
			return nil, api.BadRequest("Invalid key_name provided.")
		}
		if err != nil {
			return nil, err
		}
		in.KeyName, in.PublicKey = strPtr(k.Name), strPtr(k.PublicKey)
	}
	if r.userData != "" {
		in.UserData = strPtr(r.userData)
	}
	in.Description, in.Tags, in.RequestedNetworks = r.description, r.tags, r.networks
	if r.hostname != "" {
		in.Hostname = strPtr(r.hostname)
	}
	ins, err := s.createInstances(c, in, r)
	if err != nil {
		return nil, err
	}
	if err := s.createVolumes(c, ins, r.bdms); err != nil {
		return nil, err
	}
	for _, in := range ins {
		s.event(ctx, in, "create")
		s.schedule(ctx, in)
	}
	if r.returnReservation {
		return api.Accepted(gin.H{"reservation_id": ins[0].ReservationID}), nil
	}
	in = ins[0]
	pass := r.adminPass
	if pass == "" {
		pass = randomPassword()
	}
	return api.Accepted(gin.H{"server": gin.H{"id": in.UUID, "links": s.link("/servers/" + in.UUID),
		"OS-DCF:diskConfig": "MANUAL", "adminPass": pass, "security_groups": groupsView(r.networks.SecurityGroups)}}), nil
}

// schedule picks a host, claims the instance's resources there and hands
// the spawn to the host's agent; failures leave the instance in ERROR with
// a fault, as Nova's conductor does.
func (s *Service) schedule(ctx context.Context, in store.Instance) {
	log := s.log.With("server_id", in.UUID)
	fail := func(code int, err error) {
		log.Warn("schedule failed", "error", err)
		bg := context.WithoutCancel(ctx)
		if id, eerr := s.store.StartActionEvent(bg, in.UUID, "", "conductor_schedule_and_build_instances", ""); eerr == nil {
			_ = s.store.FinishActionEvent(bg, id, err)
		}
		if uerr := s.store.UpdateInstance(context.WithoutCancel(ctx), in.UUID, map[string]any{
			"vm_state": store.VMError, "task_state": nil,
			"fault": store.Fault{Code: code, Message: err.Error(), Created: time.Now().UTC()},
		}); uerr != nil {
			log.Error("record schedule failure", "error", uerr)
		}
		in.VMState, in.TaskState = store.VMError, nil
		s.event(ctx, in, "error")
	}
	// Members of a group are placed one at a time, each seeing the others.
	if g, _, ok, err := s.store.InstanceGroup(ctx, in.UUID); err != nil {
		fail(500, err)
		return
	} else if ok {
		unlock, err := s.store.LockServerGroup(ctx, g.UUID)
		if err != nil {
			fail(500, err)
			return
		}
		defer unlock()
	}
	hosts, err := s.hosts(ctx)
	if err != nil {
		fail(500, err)
		return
	}
	res := resourcesOf(in)
	if bfv, err := s.bootsFromVolume(ctx, in.UUID); err != nil {
		fail(500, err)
		return
	} else if bfv {
		// The root disk is a volume: no local DISK_GB for it, as Nova.
		res = resourcesOf(store.Instance{VCPUs: in.VCPUs, MemoryMB: in.MemoryMB, EphemeralGB: in.EphemeralGB, Swap: in.Swap})
	}
	req := scheduler.Request{Resources: res, AvailabilityZone: in.AvailabilityZone}
	if req.Group, err = s.schedulerGroup(ctx, in.UUID); err != nil {
		fail(500, err)
		return
	}
	host, err := s.sched.Schedule(ctx, hosts, req,
		func(h scheduler.Host) error {
			return s.placement.Claim(ctx, in.UUID, in.ProjectID, in.UserID, h.ProviderID, res)
		})
	if err != nil {
		fail(500, err)
		return
	}
	if err := s.store.UpdateInstance(ctx, in.UUID, map[string]any{"host": host.Name, "task_state": store.TaskSpawning}); err != nil {
		_ = s.placement.Release(context.WithoutCancel(ctx), in.UUID)
		fail(500, err)
		return
	}
	if err := s.publish(ctx, host.Name, work.VerbSpawn, work.Spawn{InstanceUUID: in.UUID}, "spawn-"+in.UUID); err != nil {
		// The agent's reconcile respawns instances it was given but never
		// heard of, so the instance is left BUILD for it.
		log.Error("publish spawn", "error", err)
	}
}

// event publishes a server event; events are best effort.
func (s *Service) event(ctx context.Context, in store.Instance, action string) {
	if s.bus == nil {
		return
	}
	raw, _ := json.Marshal(map[string]any{"name": in.Name, "vm_state": in.VMState, "task_state": in.TaskState})
	ev := bus.Event{Service: work.Service, Resource: "server", Action: action, ResourceID: in.UUID, ProjectID: in.ProjectID, Payload: raw}
	if err := bus.PublishEvent(context.WithoutCancel(ctx), s.bus, ev); err != nil {
		s.log.Warn("publish event", "server_id", in.UUID, "action", action, "error", err)
	}
}

func (s *Service) publish(ctx context.Context, host, verb string, msg any, id string) error {
	if s.queue == nil {
		return errors.New("compute work queue is not open")
	}
	return bus.Publish(ctx, s.queue, work.Subject(host, verb), msg, jetstream.WithMsgID(id))
}

// hosts is what the scheduler knows: every resource provider, alive if its
// agent's heartbeat is.
func (s *Service) hosts(ctx context.Context) ([]scheduler.Host, error) {
	cands, err := s.placement.Candidates(ctx, pstore.ProviderFilter{})
	if err != nil {
		return nil, err
	}
	disabled, forcedDown, err := s.store.ComputeHostStates(ctx)
	if err != nil {
		return nil, err
	}
	alive := map[string]work.HostInfo{}
	if s.beats != nil {
		if alive, err = s.beats.Alive(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]scheduler.Host, 0, len(cands))
	for _, cd := range cands {
		free := map[string]int64{}
		for rc, ru := range cd.Resources {
			free[rc] = ru.Capacity() - ru.Used
		}
		info, ok := alive[work.HostToken(cd.Provider.Name)]
		h := scheduler.Host{Name: cd.Provider.Name, ProviderID: cd.Provider.UUID, AvailabilityZone: s.cfg.Zone,
			Enabled: !disabled[cd.Provider.Name], Alive: ok && !forcedDown[cd.Provider.Name], Free: free, Capabilities: map[string]string{}}
		if ok {
			h.Capabilities["hypervisor_type"] = info.VirtType
			h.Capabilities["arch"] = info.Arch
		}
		out = append(out, h)
	}
	return out, nil
}

func (s *Service) deleteServer(c *gin.Context, _ Version) (*api.Response, error) {
	ctx := c.Request.Context()
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if err := checkLock(c, in); err != nil {
		return nil, err
	}
	if in.Host == nil || *in.Host == "" {
		// Never scheduled: nothing runs anywhere, delete it here.
		s.releaseVolumes(ctx, in)
		if err := s.finishDelete(ctx, in); err != nil {
			return nil, err
		}
		return api.NoContent(), nil
	}
	if err := s.store.UpdateInstance(ctx, in.UUID, map[string]any{"task_state": store.TaskDeleting}); err != nil {
		return nil, err
	}
	s.action(c, in, "delete")
	if err := s.publish(ctx, *in.Host, work.VerbDelete, work.Delete{InstanceUUID: in.UUID}, "delete-"+in.UUID); err != nil {
		return nil, api.Unavailable("Could not reach the compute host: %v", err)
	}
	return api.NoContent(), nil
}

// finishDelete releases what an instance holds and marks it deleted.
func (s *Service) finishDelete(ctx context.Context, in store.Instance) error {
	if err := s.placement.Release(ctx, in.UUID); err != nil && !errors.Is(err, pstore.ErrNotFound) {
		return err
	}
	return s.store.DeleteInstance(ctx, s.quota, in.UUID)
}

func (s *Service) action(c *gin.Context, in store.Instance, name string) {
	cl := api.Claims(c)
	if err := s.store.AddInstanceAction(c.Request.Context(), &store.InstanceAction{InstanceUUID: in.UUID, Action: name,
		RequestID: api.RequestID(c), UserID: cl.UserID, ProjectID: cl.ProjectID}); err != nil {
		s.log.Warn("record instance action", "server_id", in.UUID, "error", err)
	}
}

// powerAction is one server action that maps to a power change.
type powerAction struct {
	policy string
	// from are the vm_states the action is valid in.
	from []string
	task string
	work string
}

var powerActions = map[string]powerAction{
	"os-stop":  {"os_compute_api:servers:stop", []string{store.VMActive, store.VMError}, store.TaskPoweringOff, work.ActionStop},
	"os-start": {"os_compute_api:servers:start", []string{store.VMStopped}, store.TaskPoweringOn, work.ActionStart},
	"pause":    {"os_compute_api:os-pause-server:pause", []string{store.VMActive}, store.TaskPausing, work.ActionPause},
	"unpause":  {"os_compute_api:os-pause-server:unpause", []string{store.VMPaused}, store.TaskUnpausing, work.ActionUnpause},
	"suspend":  {"os_compute_api:os-suspend-server:suspend", []string{store.VMActive}, store.TaskSuspending, work.ActionSuspend},
	"resume":   {"os_compute_api:os-suspend-server:resume", []string{store.VMSuspended}, store.TaskResuming, work.ActionResume},
	"reboot":   {"os_compute_api:servers:reboot", []string{store.VMActive, store.VMStopped, store.VMPaused, store.VMSuspended, store.VMError}, "", ""},
}

func (s *Service) serverAction(c *gin.Context, v Version) (*api.Response, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if len(body) != 1 {
		return nil, api.BadRequest("There is either no or more than one action in the request body.")
	}
	var name string
	var arg json.RawMessage
	for k, val := range body {
		name, arg = k, val
	}
	if name == "os-getConsoleOutput" {
		return s.consoleOutput(c, arg)
	}
	if name == "os-getSerialConsole" {
		return s.serialConsoleAction(c, v, arg)
	}
	if h, ok := s.serverActions()[name]; ok {
		return h(c, v, name, arg)
	}
	if h, ok := s.taskActions()[name]; ok {
		return h(c, v, arg)
	}
	pa, ok := powerActions[name]
	if !ok {
		return nil, api.BadRequest("Action %s is not supported.", name)
	}
	if !api.Allowed(c, pa.policy, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", pa.policy)
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if err := checkLock(c, in); err != nil {
		return nil, err
	}
	task, verb := pa.task, pa.work
	if name == "reboot" {
		var r struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(arg, &r); err != nil {
			return nil, api.BadRequest("Invalid input for field/attribute reboot.")
		}
		switch strings.ToUpper(r.Type) {
		case "SOFT":
			task, verb = store.TaskRebooting, work.ActionRebootSoft
		case "HARD":
			task, verb = store.TaskRebootingHard, work.ActionRebootHard
		default:
			return nil, api.BadRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']", r.Type, r.Type)
		}
		if strings.EqualFold(r.Type, "SOFT") && in.VMState != store.VMActive {
			return nil, conflictState(in, name)
		}
	}
	if !contains(pa.from, in.VMState) || in.TaskState != nil || in.Host == nil {
		return nil, conflictState(in, name)
	}
	if err := s.store.UpdateInstance(c.Request.Context(), in.UUID, map[string]any{"task_state": task}); err != nil {
		return nil, err
	}
	s.action(c, in, name)
	id := fmt.Sprintf("%s-%s-%d", verb, in.UUID, time.Now().UnixNano())
	if err := s.publish(c.Request.Context(), *in.Host, work.VerbAction, work.Action{InstanceUUID: in.UUID, Action: verb}, id); err != nil {
		_ = s.store.UpdateInstance(context.WithoutCancel(c.Request.Context()), in.UUID, map[string]any{"task_state": nil})
		return nil, api.Unavailable("Could not reach the compute host: %v", err)
	}
	return api.Accepted(nil), nil
}

func conflictState(in store.Instance, action string) error {
	state := in.VMState
	if in.TaskState != nil {
		return api.Conflict("Cannot '%s' instance %s while it is in task_state %s", action, in.UUID, *in.TaskState)
	}
	return api.Conflict("Cannot '%s' instance %s while it is in vm_state %s", action, in.UUID, state)
}

func (s *Service) consoleOutput(c *gin.Context, arg json.RawMessage) (*api.Response, error) {
	rule := "os_compute_api:os-console-output"
	if !api.Allowed(c, rule, s.target(c)) {
		return nil, api.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	in, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	var r map[string]json.RawMessage
	if !isNull(arg) {
		if err := json.Unmarshal(arg, &r); err != nil {
			return nil, api.BadRequest("Invalid input for field/attribute os-getConsoleOutput.")
		}
	}
	lines := int64(0)
	if raw, ok := r["length"]; ok && !isNull(raw) {
		if lines, err = intField(r, "length", -1, 0); err != nil {
			return nil, err
		}
	}
	if in.Host == nil || in.VMState == store.VMBuilding && in.TaskState != nil && *in.TaskState == store.TaskScheduling {
		return nil, api.Conflict("Instance %s is not ready", in.UUID)
	}
	if s.bus == nil {
		return nil, api.Unavailable("the bus is not connected")
	}
	rc, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	rep, err := bus.Request[work.ConsoleRequest, work.ConsoleReply](rc, s.bus, work.ConsoleSubject(*in.Host),
		work.ConsoleRequest{InstanceUUID: in.UUID, Lines: int(lines)})
	if bus.HasCode(err, bus.CodeNotFound) {
		return nil, api.NotFound("Guest does not have a console available.")
	}
	if err != nil {
		return nil, api.Unavailable("Could not get the console output: %v", err)
	}
	return api.OK(gin.H{"output": rep.Output}), nil
}
