package configdrive

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Metadata is what meta_data.json says about the instance.
type Metadata struct {
	UUID             string
	Name             string
	Hostname         string
	AvailabilityZone string
	ProjectID        string
	// PublicKeys maps a keypair name to its public key (OpenSSH format).
	PublicKeys map[string]string
	// Meta is the server's user metadata (Nova's "meta").
	Meta        map[string]string
	LaunchIndex int
}

// Drive is the content of one config drive.
type Drive struct {
	Meta Metadata
	// UserData is written verbatim as user_data; nil or empty means none.
	UserData []byte
	// Network becomes network_data.json; nil means none (Nova omits the file
	// when the instance has no network information).
	Network *NetworkData
	// VendorData is the static vendor data: vendor_data.json, and the
	// "static" key of vendor_data2.json.
	VendorData map[string]any
	// RandomSeed is meta_data.json's random_seed; nil means 512 random
	// bytes, as Nova does. Tests set it to get stable output.
	RandomSeed []byte
}

// Metadata API versions Nova writes as openstack/<version>/, oldest first.
const (
	versionFolsom    = "2012-08-10"
	versionGrizzly   = "2013-04-04"
	versionHavana    = "2013-10-17"
	versionLiberty   = "2015-10-15"
	versionNewtonOne = "2016-06-30"
	versionNewtonTwo = "2016-10-06"
	versionOcata     = "2017-02-22"
	versionRocky     = "2018-08-27"
	versionVictoria  = "2020-10-14"
	versionLatest    = "latest"
)

// versions lists every dated directory, then "latest", which has everything.
var versions = []string{
	versionFolsom, versionGrizzly, versionHavana, versionLiberty, versionNewtonOne,
	versionNewtonTwo, versionOcata, versionRocky, versionVictoria, versionLatest,
}

// atLeast reports whether metadata version v includes what min introduced.
// The dated names sort as strings; "latest" sorts after all of them.
func atLeast(v, min string) bool { return v == versionLatest || v >= min }

// keyJSON is one entry of meta_data.json's "keys".
type keyJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// metaJSON is meta_data.json with Nova's key order and per-version keys
// (nil pointers and empty values are left out with omitempty).
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
	ProjectID        *string           `json:"project_id,omitempty"`
	Devices          *[]any            `json:"devices,omitempty"`
	DedicatedCPUs    *[]int            `json:"dedicated_cpus,omitempty"`
}

func (d Drive) validate() error {
	m := d.Meta
	if m.UUID == "" {
		return errors.New("configdrive: Meta.UUID is required")
	}
	if m.Hostname == "" {
		return errors.New("configdrive: Meta.Hostname is required")
	}
	for name, key := range m.PublicKeys {
		if name == "" || strings.TrimSpace(key) == "" {
			return fmt.Errorf("configdrive: public key %q: name and key must not be empty", name)
		}
	}
	return nil
}

func (d Drive) metaData(version string, seed string) metaJSON {
	m := d.Meta
	out := metaJSON{
		UUID:             m.UUID,
		Hostname:         m.Hostname,
		Name:             m.Name,
		LaunchIndex:      m.LaunchIndex,
		AvailabilityZone: m.AvailabilityZone,
	}
	if len(m.Meta) > 0 {
		out.Meta = m.Meta
	}
	if len(m.PublicKeys) > 0 {
		out.PublicKeys = m.PublicKeys
		names := make([]string, 0, len(m.PublicKeys))
		for name := range m.PublicKeys {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			out.Keys = append(out.Keys, keyJSON{Name: name, Type: "ssh", Data: m.PublicKeys[name]})
		}
	}
	if atLeast(version, versionGrizzly) {
		out.RandomSeed = seed
	}
	if atLeast(version, versionLiberty) {
		project := m.ProjectID
		out.ProjectID = &project
	}
	if atLeast(version, versionNewtonOne) {
		out.Devices = &[]any{}
	}
	if atLeast(version, versionVictoria) {
		out.DedicatedCPUs = &[]int{}
	}
	return out
}

// Files returns the drive's files by path (e.g.
// "openstack/latest/meta_data.json"), as Nova lays them out: every dated
// version directory gets meta_data.json and user_data; vendor_data.json from
// 2013-10-17, network_data.json from 2015-10-15, vendor_data2.json from
// 2016-10-06; "latest" gets all of them.
func (d Drive) Files() (map[string][]byte, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	seed := d.RandomSeed
	if seed == nil {
		seed = make([]byte, 512)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("configdrive: random seed: %w", err)
		}
	}
	seedText := base64.StdEncoding.EncodeToString(seed)

	vendor := d.VendorData
	if vendor == nil {
		vendor = map[string]any{}
	}
	vendor2 := map[string]any{}
	if d.VendorData != nil {
		vendor2["static"] = d.VendorData
	}
	vendorJSON, err := marshal(vendor)
	if err != nil {
		return nil, fmt.Errorf("configdrive: vendor_data.json: %w", err)
	}
	vendor2JSON, err := marshal(vendor2)
	if err != nil {
		return nil, fmt.Errorf("configdrive: vendor_data2.json: %w", err)
	}
	var networkJSON []byte
	if d.Network != nil {
		if err := d.Network.validate(); err != nil {
			return nil, err
		}
		if networkJSON, err = marshal(d.Network.normalized()); err != nil {
			return nil, fmt.Errorf("configdrive: network_data.json: %w", err)
		}
	}

	files := map[string][]byte{}
	for _, v := range versions {
		dir := "openstack/" + v + "/"
		meta, err := marshal(d.metaData(v, seedText))
		if err != nil {
			return nil, fmt.Errorf("configdrive: meta_data.json: %w", err)
		}
		files[dir+"meta_data.json"] = meta
		if len(d.UserData) > 0 {
			files[dir+"user_data"] = bytes.Clone(d.UserData)
		}
		if atLeast(v, versionHavana) {
			files[dir+"vendor_data.json"] = vendorJSON
		}
		if networkJSON != nil && atLeast(v, versionLiberty) {
			files[dir+"network_data.json"] = networkJSON
		}
		if atLeast(v, versionNewtonTwo) {
			files[dir+"vendor_data2.json"] = vendor2JSON
		}
	}
	return files, nil
}

// marshal encodes v as compact JSON without HTML escaping (keys' comments
// stay readable) and without a trailing newline, like Nova's json.dumps.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
