package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kumoCLI runs the kumo command-line client against a cloud.
type kumoCLI struct {
	t   *testing.T
	bin string
	env []string
	// timeout bounds one run (a minute when zero).
	timeout time.Duration
}

// newKumoCLI builds the kumo CLI for the test, with an environment free of
// the caller's OS_* variables and a throwaway HOME; the second result is
// the environment that selects the cloud's admin.
func newKumoCLI(t *testing.T, c *Cloud) (*kumoCLI, []string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "kumo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kumo-cloud/kumo/cmd/kumo").CombinedOutput(); err != nil {
		t.Fatalf("go build kumo: %v\n%s", err, out)
	}
	var env []string
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OS_") || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir)
	return &kumoCLI{t: t, bin: bin, env: env}, []string{"OS_CLIENT_CONFIG_FILE=" + c.CloudsYAML, "OS_CLOUD=kumo"}
}

// run runs kumo with extra environment variables; it fails the test unless
// kumo exits zero, and returns stdout.
func (k *kumoCLI) run(extraEnv []string, args ...string) []byte {
	k.t.Helper()
	stdout, stderr, err := k.exec(extraEnv, args...)
	if err != nil {
		k.t.Fatalf("kumo %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

func (k *kumoCLI) exec(extraEnv []string, args ...string) (stdout, stderr []byte, err error) {
	timeout := k.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.bin, args...)
	cmd.Env = append(append([]string{}, k.env...), extraEnv...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// json runs kumo with -f json and decodes its output into v.
func (k *kumoCLI) json(v any, extraEnv []string, args ...string) {
	k.t.Helper()
	out := k.run(extraEnv, append(args, "-f", "json")...)
	if err := json.Unmarshal(out, v); err != nil {
		k.t.Fatalf("kumo %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestKumoCLI drives the kumo CLI's identity verbs against the shared
// cloud: the admin creates a project and a user and gives it a role; the
// user creates an application credential and authenticates with it; then
// everything is deleted.
func TestKumoCLI(t *testing.T) {
	c := sharedCloud(t)
	k, admin := newKumoCLI(t, c)
	dir := t.TempDir()
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	projectName, userName, password := "kcli-project-"+suffix, "kcli-user-"+suffix, "kcli-Pw-"+suffix

	var tok map[string]any
	k.json(&tok, admin, "token", "issue")
	if tok["user_name"] != "admin" || tok["project_name"] != "admin" || tok["id"] == "" || tok["expires"] == nil {
		t.Fatalf("admin token issue = %v", tok)
	}

	var project map[string]any
	k.json(&project, admin, "project", "create", projectName, "--description", "kumo CLI test")
	projectID, _ := project["id"].(string)
	if len(projectID) != 32 || project["name"] != projectName || project["domain_id"] != "default" {
		t.Fatalf("project create = %v", project)
	}
	t.Cleanup(func() { k.exec(admin, "project", "delete", projectID) })

	var projects []map[string]any
	k.json(&projects, admin, "project", "list")
	if !hasRow(projects, map[string]any{"id": projectID, "name": projectName}) {
		t.Fatalf("project list lacks %s: %v", projectName, projects)
	}
	k.json(&project, admin, "project", "show", projectName)
	if project["id"] != projectID || project["description"] != "kumo CLI test" {
		t.Fatalf("project show = %v", project)
	}

	var user map[string]any
	k.json(&user, admin, "user", "create", userName, "--password", password, "--domain", "Default", "--project", projectName)
	userID, _ := user["id"].(string)
	if len(userID) != 32 || user["default_project_id"] != projectID || user["domain_id"] != "default" {
		t.Fatalf("user create = %v", user)
	}
	t.Cleanup(func() { k.exec(admin, "user", "delete", userID) })
	var users []map[string]any
	k.json(&users, admin, "user", "list", "--domain", "Default")
	if !hasRow(users, map[string]any{"id": userID, "name": userName}) {
		t.Fatalf("user list lacks %s: %v", userName, users)
	}

	var roles []map[string]any
	k.json(&roles, admin, "role", "list")
	if !hasRow(roles, map[string]any{"name": "member"}) {
		t.Fatalf("role list lacks member: %v", roles)
	}
	k.run(admin, "role", "add", "--project", projectName, "--user", userName, "member")
	var assignments []map[string]any
	k.json(&assignments, admin, "role", "assignment", "list", "--user", userName, "--project", projectName, "--names")
	want := map[string]any{"role": "member", "user": userName + "@Default", "project": projectName + "@Default"}
	if len(assignments) != 1 || !hasRow(assignments, want) {
		t.Fatalf("role assignment list --names = %v, want one %v", assignments, want)
	}
	k.json(&assignments, admin, "role", "assignment", "list", "--project", projectID)
	if !hasRow(assignments, map[string]any{"user": userID, "project": projectID}) {
		t.Fatalf("role assignment list --project = %v", assignments)
	}

	// The user, through its own clouds.yaml, creates an application credential.
	userClouds := filepath.Join(dir, "clouds.yaml")
	yaml := fmt.Sprintf(`clouds:
  mine:
    auth:
      auth_url: %q
      username: %q
      password: %q
      user_domain_name: Default
      project_name: %q
      project_domain_name: Default
    region_name: RegionOne
`, c.AuthURL(), userName, password, projectName)
	if err := os.WriteFile(userClouds, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	asUser := []string{"OS_CLIENT_CONFIG_FILE=" + userClouds}
	var cred map[string]any
	k.json(&cred, asUser, "--os-cloud", "mine", "application-credential", "create", "kcli-cred", "--description", "kumo CLI test")
	credID, _ := cred["id"].(string)
	secret, _ := cred["secret"].(string)
	if credID == "" || secret == "" || cred["project_id"] != projectID || cred["user_id"] != userID {
		t.Fatalf("application-credential create = %v", cred)
	}
	var creds []map[string]any
	k.json(&creds, asUser, "--os-cloud", "mine", "application-credential", "list")
	if len(creds) != 1 || !hasRow(creds, map[string]any{"id": credID, "name": "kcli-cred"}) {
		t.Fatalf("application-credential list = %v", creds)
	}

	// The application credential authenticates through OS_* variables.
	asCred := []string{"OS_AUTH_URL=" + c.AuthURL(), "OS_APPLICATION_CREDENTIAL_ID=" + credID,
		"OS_APPLICATION_CREDENTIAL_SECRET=" + secret, "OS_REGION_NAME=RegionOne"}
	k.json(&tok, asCred, "token", "issue")
	if tok["user_id"] != userID || tok["project_id"] != projectID {
		t.Fatalf("token issue with the application credential = %v", tok)
	}

	// Errors are one line, "kumo: ...", with a non-zero exit.
	_, stderr, err := k.exec(admin, "project", "show", "no-such-project-"+suffix)
	if err == nil || !strings.HasPrefix(string(stderr), "kumo: ") || strings.Count(strings.TrimSpace(string(stderr)), "\n") != 0 {
		t.Fatalf("project show of a missing project: err %v, stderr %q", err, stderr)
	}

	// Delete everything and check it is gone.
	k.run(asUser, "--os-cloud", "mine", "application-credential", "delete", "kcli-cred")
	k.json(&creds, admin, "application-credential", "list", "--user", userID)
	if len(creds) != 0 {
		t.Fatalf("application credentials left after delete: %v", creds)
	}
	k.run(admin, "role", "remove", "--project", projectID, "--user", userID, "member")
	k.json(&assignments, admin, "role", "assignment", "list", "--user", userID)
	if len(assignments) != 0 {
		t.Fatalf("assignments left after role remove: %v", assignments)
	}
	k.run(admin, "user", "delete", userID)
	k.run(admin, "project", "delete", projectName)
	k.json(&projects, admin, "project", "list")
	if hasRow(projects, map[string]any{"id": projectID}) {
		t.Fatalf("project %s still listed after delete", projectName)
	}
}

// hasRow reports whether some row has all of want's values.
func hasRow(rows []map[string]any, want map[string]any) bool {
	for _, r := range rows {
		match := true
		for k, v := range want {
			if r[k] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
