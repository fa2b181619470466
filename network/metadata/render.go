package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/kumo-cloud/kumo/internal/rpc"
)

// OpenStackVersions are the dated OpenStack metadata versions Nova serves,
// oldest first; "latest" follows them.
var OpenStackVersions = []string{"2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
	"2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14"}

// EC2Versions are the EC2 metadata versions Nova serves.
var EC2Versions = []string{"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04"}

// Instance is what a guest's request is answered from: compute's
// metadata and the address the request came from.
type Instance struct {
	rpc.InstanceMetadata
	LocalIPv4  string
	PublicIPv4 string
}

// Reply is a rendered answer.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

func text(s string) Reply {
	return Reply{Status: http.StatusOK, ContentType: "text/plain; charset=UTF-8", Body: []byte(s)}
}

func notFound() Reply {
	return Reply{Status: http.StatusNotFound, ContentType: "text/plain; charset=UTF-8", Body: []byte("404 Not Found\n")}
}

func jsonReply(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		return Reply{Status: http.StatusInternalServerError, ContentType: "text/plain; charset=UTF-8", Body: []byte(err.Error())}
	}
	return Reply{Status: http.StatusOK, ContentType: "application/json", Body: b}
}

// Render answers path (the request's URL path) for inst as Nova's
// metadata API does: directory listings are newline-separated names
// (subdirectories end in "/"), leaves are their value.
func Render(inst Instance, path string) Reply {
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	if len(parts) == 0 {
		return text(strings.Join(append(append([]string{}, EC2Versions...), "latest"), "\n"))
	}
	if parts[0] == "openstack" {
		return renderOpenStack(inst, parts[1:])
	}
	if !known(EC2Versions, parts[0]) {
		return notFound()
	}
	return renderEC2(inst, parts[1:])
}

func known(versions []string, v string) bool {
	return v == "latest" || sort.SearchStrings(versions, v) < len(versions) && versions[sort.SearchStrings(versions, v)] == v
}

// metaJSON is meta_data.json with Nova's keys for the latest version.
type metaJSON struct {
	UUID             string            `json:"uuid"`
	Meta             map[string]string `json:"meta,omitempty"`
	PublicKeys       map[string]string `json:"public_keys,omitempty"`
	Keys             []keyJSON         `json:"keys,omitempty"`
	Hostname         string            `json:"hostname"`
	Name             string            `json:"name"`
	LaunchIndex      int               `json:"launch_index"`
	AvailabilityZone string            `json:"availability_zone"`
	RandomSeed       string            `json:"random_seed,omitempty"`
	ProjectID        string            `json:"project_id,omitempty"`
	Devices          *[]any            `json:"devices,omitempty"`
	DedicatedCPUs    *[]int            `json:"dedicated_cpus,omitempty"`
}

type keyJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
}

func keyNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func renderOpenStack(inst Instance, parts []string) Reply {
	if len(parts) == 0 {
		return text(strings.Join(append(append([]string{}, OpenStackVersions...), "latest"), "\n"))
	}
	v := parts[0]
	if !known(OpenStackVersions, v) {
		return notFound()
	}
	if len(parts) == 1 {
		files := []string{"meta_data.json"}
		if len(inst.UserData) > 0 {
			files = append(files, "user_data")
		}
		files = append(files, "password", "vendor_data.json")
		if v == "latest" || v >= "2016-10-06" {
			files = append(files, "vendor_data2.json")
		}
		return text(strings.Join(files, "\n"))
	}
	if len(parts) > 2 {
		return notFound()
	}
	switch parts[1] {
	case "meta_data.json":
		return jsonReply(metaData(inst, v))
	case "user_data":
		if len(inst.UserData) == 0 {
			return notFound()
		}
		return Reply{Status: http.StatusOK, ContentType: "application/octet-stream", Body: inst.UserData}
	case "password":
		return text("")
	case "vendor_data.json":
		return jsonReply(map[string]any{})
	case "vendor_data2.json":
		if v == "latest" || v >= "2016-10-06" {
			return jsonReply(map[string]any{})
		}
	}
	return notFound()
}

func metaData(inst Instance, v string) metaJSON {
	out := metaJSON{UUID: inst.UUID, Hostname: inst.Hostname, Name: inst.Name, LaunchIndex: inst.LaunchIndex,
		AvailabilityZone: inst.AvailabilityZone}
	if len(inst.Meta) > 0 {
		out.Meta = inst.Meta
	}
	if len(inst.PublicKeys) > 0 {
		out.PublicKeys = inst.PublicKeys
		for _, n := range keyNames(inst.PublicKeys) {
			out.Keys = append(out.Keys, keyJSON{Name: n, Type: "ssh", Data: inst.PublicKeys[n]})
		}
	}
	after := func(min string) bool { return v == "latest" || v >= min }
	if after("2013-04-04") {
		seed := make([]byte, 512)
		_, _ = rand.Read(seed)
		out.RandomSeed = base64.StdEncoding.EncodeToString(seed)
	}
	if after("2015-10-15") {
		out.ProjectID = inst.ProjectID
	}
	if after("2016-06-30") {
		out.Devices = &[]any{}
	}
	if after("2020-10-14") {
		out.DedicatedCPUs = &[]int{}
	}
	return out
}

// ec2ID is Nova's EC2 style identifier: prefix and eight hex digits (kumo
// takes them from the UUID, having no integer IDs).
func ec2ID(prefix, uuid string) string {
	h := strings.ReplaceAll(uuid, "-", "")
	if len(h) > 8 {
		h = h[:8]
	}
	return fmt.Sprintf("%s-%s", prefix, h)
}

func renderEC2(inst Instance, parts []string) Reply {
	if len(parts) == 0 {
		items := []string{"meta-data/"}
		if len(inst.UserData) > 0 {
			items = append(items, "user-data")
		}
		return text(strings.Join(items, "\n"))
	}
	if parts[0] == "user-data" && len(parts) == 1 {
		if len(inst.UserData) == 0 {
			return notFound()
		}
		return Reply{Status: http.StatusOK, ContentType: "application/octet-stream", Body: inst.UserData}
	}
	if parts[0] != "meta-data" {
		return notFound()
	}
	tree := ec2Tree(inst)
	node := any(tree)
	for _, p := range parts[1:] {
		dir, ok := node.(map[string]any)
		if !ok || strings.HasPrefix(p, "_") {
			return notFound()
		}
		if node, ok = dir[p]; !ok {
			return notFound()
		}
	}
	switch n := node.(type) {
	case string:
		return text(n)
	case map[string]any:
		if listing, ok := n["_listing"].(string); ok {
			return text(listing)
		}
		names := make([]string, 0, len(n))
		for k, v := range n {
			if _, dir := v.(map[string]any); dir {
				k += "/"
			}
			names = append(names, k)
		}
		sort.Strings(names)
		return text(strings.Join(names, "\n"))
	}
	return notFound()
}

// ec2Tree is the meta-data/ tree; leaves are strings. A public-keys
// directory lists "<index>=<name>" as Nova does, under its own listing.
func ec2Tree(inst Instance) map[string]any {
	hostname := inst.Hostname
	t := map[string]any{
		"ami-id":               ec2ID("ami", inst.ImageRef),
		"ami-launch-index":     fmt.Sprint(inst.LaunchIndex),
		"ami-manifest-path":    "FIXME",
		"hostname":             hostname,
		"instance-action":      "none",
		"instance-id":          ec2ID("i", inst.UUID),
		"instance-type":        inst.FlavorName,
		"local-hostname":       hostname,
		"local-ipv4":           inst.LocalIPv4,
		"public-hostname":      hostname,
		"reservation-id":       inst.ReservationID,
		"placement":            map[string]any{"availability-zone": inst.AvailabilityZone},
		"block-device-mapping": map[string]any{"ami": "vda", "root": "/dev/vda"},
	}
	if inst.PublicIPv4 != "" {
		t["public-ipv4"] = inst.PublicIPv4
	}
	if len(inst.PublicKeys) > 0 {
		keys := map[string]any{}
		var listing []string
		for i, n := range keyNames(inst.PublicKeys) {
			keys[fmt.Sprint(i)] = map[string]any{"openssh-key": inst.PublicKeys[n]}
			listing = append(listing, fmt.Sprintf("%d=%s", i, n))
		}
		keys["_listing"] = strings.Join(listing, "\n")
		t["public-keys"] = keys
	}
	return t
}
