package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/kumo-cloud/kumo/"

// services are the top-level service packages; none may import another.
var services = []string{"identity", "compute", "network", "storage", "faas", "paas"}

// serviceOf returns the service a package path belongs to, or "".
func serviceOf(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, module)
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	for _, s := range services {
		if top == s {
			return s
		}
	}
	return ""
}

func TestServicePackagesDoNotImportEachOther(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "github.com/kumo-cloud/kumo/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		checked++
		own := serviceOf(fields[0])
		if own == "" {
			continue
		}
		for _, imp := range fields[1:] {
			if other := serviceOf(imp); other != "" && other != own {
				t.Errorf("%s (service %s) imports %s (service %s): services talk over NATS, not imports", fields[0], own, imp, other)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("go list saw only %d packages; the guard is not looking at the module", checked)
	}
}

func TestServiceOf(t *testing.T) {
	tests := map[string]string{
		module + "compute/scheduler": "compute",
		module + "identity":          "identity",
		module + "internal/bus":      "",
		"github.com/other/compute":   "",
	}
	for in, want := range tests {
		if got := serviceOf(in); got != want {
			t.Errorf("serviceOf(%s) = %q, want %q", in, got, want)
		}
	}
}
