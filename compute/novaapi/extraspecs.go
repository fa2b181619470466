package novaapi

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/kumo-cloud/kumo/api"
)

// From microversion 2.86 Nova validates the values of the flavor extra
// specs it knows. kumo knows the ones below: a value they refuse is a 400.
// Keys kumo does not know are accepted as they are (Nova also refuses
// unknown keys inside its own namespaces; kumo does not, so that keys of
// features it does not model yet still round-trip).

type specCheck func(string) bool

func oneOf(vals ...string) specCheck {
	return func(s string) bool { return contains(vals, s) }
}

func intAtLeast(min int64) specCheck {
	return func(s string) bool {
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= min
	}
}

func isBool(s string) bool { _, ok := parseBool(s); return ok }

var pageSize = regexp.MustCompile(`^(small|large|any|[0-9]+([KMG]i?B?)?)$`)

var knownSpecs = map[string]specCheck{
	"hw:cpu_policy":               oneOf("dedicated", "shared", "mixed"),
	"hw:cpu_thread_policy":        oneOf("prefer", "isolate", "require"),
	"hw:emulator_threads_policy":  oneOf("share", "isolate"),
	"hw:mem_page_size":            pageSize.MatchString,
	"hw:numa_nodes":               intAtLeast(1),
	"hw:cpu_sockets":              intAtLeast(1),
	"hw:cpu_cores":                intAtLeast(1),
	"hw:cpu_threads":              intAtLeast(1),
	"hw:cpu_max_sockets":          intAtLeast(1),
	"hw:cpu_max_cores":            intAtLeast(1),
	"hw:cpu_max_threads":          intAtLeast(1),
	"hw:watchdog_action":          oneOf("none", "pause", "poweroff", "reset", "disabled"),
	"hw:boot_menu":                isBool,
	"hw:vif_multiqueue_enabled":   isBool,
	"hw:hide_hypervisor_id":       isBool,
	"hide_hypervisor_id":          isBool,
	"hw:cpu_realtime":             isBool,
	"hw:pci_numa_affinity_policy": oneOf("required", "preferred", "legacy", "socket"),
	"hw:pmu":                      isBool,
	"hw_rng:allowed":              isBool,
	"hw_rng:rate_bytes":           intAtLeast(0),
	"hw_rng:rate_period":          intAtLeast(0),
	"hw_video:ram_max_mb":         intAtLeast(0),
	"quota:cpu_shares":            intAtLeast(0),
	"quota:cpu_period":            intAtLeast(0),
	"quota:cpu_quota":             intAtLeast(-1),
	"quota:disk_read_bytes_sec":   intAtLeast(0),
	"quota:disk_write_bytes_sec":  intAtLeast(0),
	"quota:disk_total_bytes_sec":  intAtLeast(0),
	"quota:disk_read_iops_sec":    intAtLeast(0),
	"quota:disk_write_iops_sec":   intAtLeast(0),
	"quota:disk_total_iops_sec":   intAtLeast(0),
	"quota:vif_inbound_average":   intAtLeast(0),
	"quota:vif_inbound_peak":      intAtLeast(0),
	"quota:vif_inbound_burst":     intAtLeast(0),
	"quota:vif_outbound_average":  intAtLeast(0),
	"quota:vif_outbound_peak":     intAtLeast(0),
	"quota:vif_outbound_burst":    intAtLeast(0),
	"os:secure_boot":              oneOf("required", "disabled", "optional"),
	"accel:device_profile":        func(s string) bool { return s != "" },
}

var resourceClass = regexp.MustCompile(`^([A-Z0-9_]+)$`)

// validateExtraSpec checks one extra spec at microversion 2.86 and later.
func validateExtraSpec(key, value string) error {
	bad := func() error {
		return api.BadRequest("Validation failed; '%s' is not valid for extra spec '%s'.", value, key)
	}
	switch {
	case strings.HasPrefix(key, "resources"):
		// resources:VCPU or resources<group>:VCPU.
		_, rc, ok := strings.Cut(key, ":")
		if ok && resourceClass.MatchString(rc) && !intAtLeast(0)(value) {
			return bad()
		}
		return nil
	case strings.HasPrefix(key, "trait"):
		if _, _, ok := strings.Cut(key, ":"); ok && !oneOf("required", "forbidden")(value) {
			return bad()
		}
		return nil
	}
	if check := knownSpecs[key]; check != nil && !check(value) {
		return bad()
	}
	return nil
}
