package novaapi

import (
	"slices"
	"testing"

	"github.com/kumo-cloud/kumo/compute/store"
)

func TestServerStatus(t *testing.T) {
	task := func(s string) *string { return &s }
	for _, tc := range []struct {
		vm   string
		task *string
		want string
	}{
		{store.VMBuilding, task(store.TaskScheduling), "BUILD"},
		{store.VMBuilding, task(store.TaskSpawning), "BUILD"},
		{store.VMActive, nil, "ACTIVE"},
		{store.VMActive, task(store.TaskPoweringOff), "ACTIVE"},
		{store.VMActive, task(store.TaskRebooting), "REBOOT"},
		{store.VMActive, task(store.TaskRebootingHard), "HARD_REBOOT"},
		{store.VMStopped, nil, "SHUTOFF"},
		{store.VMStopped, task(store.TaskPoweringOn), "SHUTOFF"},
		{store.VMPaused, nil, "PAUSED"},
		{store.VMSuspended, nil, "SUSPENDED"},
		{store.VMError, nil, "ERROR"},
		{store.VMError, task(store.TaskDeleting), "ERROR"},
		{store.VMDeleted, nil, "DELETED"},
		{"bogus", nil, "UNKNOWN"},
	} {
		if got := serverStatus(tc.vm, tc.task); got != tc.want {
			t.Errorf("%s/%v: %s, want %s", tc.vm, tc.task, got, tc.want)
		}
	}
	if got := vmStatesOf("SHUTOFF"); !slices.Equal(got, []string{store.VMStopped}) {
		t.Errorf("vm states of SHUTOFF: %v", got)
	}
	if got := vmStatesOf("NOPE"); len(got) != 0 {
		t.Errorf("vm states of NOPE: %v", got)
	}
}

func TestHostnameOf(t *testing.T) {
	for name, want := range map[string]string{"web-1": "web-1", "My Server!": "my-server", "__": "server"} {
		if got := hostnameOf(name); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}
