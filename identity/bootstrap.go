package identity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/kumo-cloud/kumo/identity/store"
)

// DefaultDomainID is Keystone's id for the Default domain.
const DefaultDomainID = "default"

// catalogEntry is one service of ARCHITECTURE.md §3 as it appears in the
// catalog.
type catalogEntry struct {
	typ, name, path string
}

// catalogEntries lists every kumo service in the catalog. The FaaS API is
// not an OpenStack service and is not listed.
var catalogEntries = []catalogEntry{
	{"identity", "keystone", "/identity"},
	{"compute", "nova", "/compute/v2.1"},
	{"network", "neutron", "/network"},
	{"image", "glance", "/image"},
	{"block-storage", "cinder", "/volume/v3/$(project_id)s"},
	{"volumev3", "cinderv3", "/volume/v3/$(project_id)s"},
	{"placement", "placement", "/placement"},
	{"paas", "kumo-paas", "/paas/v1"},
}

// Bootstrap makes sure the Default domain, the admin/member/reader roles,
// the admin and service projects, the admin user, the region and the catalog
// exist, and writes clouds.yaml and openrc for the admin. It is idempotent:
// a later start only brings the catalog's URLs up to date.
func (s *Service) Bootstrap(ctx context.Context) error {
	var password string
	err := s.store.Tx(ctx, func(tx *store.Store) error {
		var err error
		password, err = s.bootstrapIn(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("identity bootstrap: %w", err)
	}
	if password == "" {
		password = s.existingPassword()
	}
	if password == "" {
		// The admin exists but its password is lost with clouds.yaml: give
		// the operator (root on this state dir) a new one.
		password = randomSecret(18)
		if err := s.setAdminPassword(ctx, password); err != nil {
			return fmt.Errorf("identity bootstrap: %w", err)
		}
	}
	if err := s.writeCredentials(password); err != nil {
		return fmt.Errorf("identity bootstrap: %w", err)
	}
	s.log.Info("admin credentials written", "clouds_yaml", s.CloudsYAML(), "openrc", s.OpenRC())
	return nil
}

// bootstrapIn creates what is missing; it returns the admin's password when
// it created the admin.
func (s *Service) bootstrapIn(ctx context.Context, tx *store.Store) (string, error) {
	if _, err := tx.GetDomain(ctx, DefaultDomainID); errors.Is(err, store.ErrNotFound) {
		if err := tx.CreateDomain(ctx, &store.Domain{ID: DefaultDomainID, Name: "Default", Description: "The default domain", Enabled: true}); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	roles := map[string]string{}
	for _, name := range []string{"admin", "member", "reader", "service"} {
		r, err := tx.GetRoleByName(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			r = store.Role{ID: store.NewID(), Name: name}
			err = tx.CreateRole(ctx, &r)
		}
		if err != nil {
			return "", err
		}
		roles[name] = r.ID
	}
	implied, err := tx.ListImpliedRoles(ctx)
	if err != nil {
		return "", err
	}
	for _, pair := range [][2]string{{"admin", "member"}, {"member", "reader"}} {
		want := store.ImpliedRole{PriorRoleID: roles[pair[0]], ImpliedRoleID: roles[pair[1]]}
		if !containsImplied(implied, want) {
			if err := tx.CreateImpliedRole(ctx, want.PriorRoleID, want.ImpliedRoleID); err != nil {
				return "", err
			}
		}
	}
	projects := map[string]string{}
	for _, name := range []string{"admin", "service"} {
		p, err := tx.GetProjectByName(ctx, DefaultDomainID, name)
		if errors.Is(err, store.ErrNotFound) {
			p = store.Project{ID: store.NewID(), Name: name, DomainID: DefaultDomainID, Enabled: true,
				Description: "Bootstrap project for " + name}
			err = tx.CreateProject(ctx, &p)
		}
		if err != nil {
			return "", err
		}
		projects[name] = p.ID
	}
	var password string
	admin, err := tx.GetUserByName(ctx, DefaultDomainID, "admin")
	if errors.Is(err, store.ErrNotFound) {
		password = randomSecret(18)
		hash, herr := hashSecret(s.cfg.Argon2, password)
		if herr != nil {
			return "", herr
		}
		admin = store.User{ID: store.NewID(), Name: "admin", DomainID: DefaultDomainID, Enabled: true,
			DefaultProjectID: projects["admin"], PasswordHash: hash}
		err = tx.CreateUser(ctx, &admin)
	}
	if err != nil {
		return "", err
	}
	for _, a := range []store.Assignment{
		{Type: "UserProject", ActorID: admin.ID, TargetID: projects["admin"], RoleID: roles["admin"]},
		{Type: "UserSystem", ActorID: admin.ID, TargetID: "system", RoleID: roles["admin"]},
	} {
		if err := tx.Grant(ctx, a); err != nil {
			return "", err
		}
	}
	if _, err := tx.GetRegion(ctx, s.cfg.Region); errors.Is(err, store.ErrNotFound) {
		if err := tx.CreateRegion(ctx, &store.Region{ID: s.cfg.Region, Description: "kumo region"}); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	return password, s.bootstrapCatalog(ctx, tx)
}

func containsImplied(list []store.ImpliedRole, want store.ImpliedRole) bool {
	for _, ir := range list {
		if ir == want {
			return true
		}
	}
	return false
}

// bootstrapCatalog registers every service with public, internal and admin
// endpoints at the URL this kumo serves on, fixing URLs that changed.
func (s *Service) bootstrapCatalog(ctx context.Context, tx *store.Store) error {
	for _, e := range catalogEntries {
		svcs, err := tx.ListServices(ctx, store.ServiceFilter{Type: e.typ})
		if err != nil {
			return err
		}
		var svc store.Service
		if len(svcs) > 0 {
			svc = svcs[0]
		} else {
			svc = store.Service{ID: store.NewID(), Type: e.typ, Name: e.name, Enabled: true, Description: "kumo " + e.typ}
			if err := tx.CreateService(ctx, &svc); err != nil {
				return err
			}
		}
		url := s.cfg.PublicURL + e.path
		eps, err := tx.ListEndpoints(ctx, store.EndpointFilter{ServiceID: svc.ID})
		if err != nil {
			return err
		}
		for _, iface := range []string{"public", "internal", "admin"} {
			found := false
			for _, ep := range eps {
				if ep.Interface != iface || ep.RegionID != s.cfg.Region {
					continue
				}
				found = true
				if ep.URL != url {
					ep.URL = url
					if err := tx.UpdateEndpoint(ctx, &ep); err != nil {
						return err
					}
				}
			}
			if !found {
				ep := store.Endpoint{ID: store.NewID(), ServiceID: svc.ID, Interface: iface, RegionID: s.cfg.Region, URL: url, Enabled: true}
				if err := tx.CreateEndpoint(ctx, &ep); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Service) setAdminPassword(ctx context.Context, password string) error {
	admin, err := s.store.GetUserByName(ctx, DefaultDomainID, "admin")
	if err != nil {
		return err
	}
	if admin.PasswordHash, err = hashSecret(s.cfg.Argon2, password); err != nil {
		return err
	}
	return s.store.UpdateUser(ctx, &admin)
}

// CloudsYAML is where the admin's clouds.yaml is written.
func (s *Service) CloudsYAML() string { return filepath.Join(s.cfg.StateDir, "clouds.yaml") }

// OpenRC is where the admin's openrc is written.
func (s *Service) OpenRC() string { return filepath.Join(s.cfg.StateDir, "openrc") }

type cloudsFile struct {
	Clouds map[string]cloudEntry `yaml:"clouds"`
}

type cloudEntry struct {
	Auth struct {
		AuthURL           string `yaml:"auth_url"`
		Username          string `yaml:"username"`
		Password          string `yaml:"password"`
		ProjectName       string `yaml:"project_name"`
		UserDomainName    string `yaml:"user_domain_name"`
		ProjectDomainName string `yaml:"project_domain_name"`
	} `yaml:"auth"`
	RegionName         string `yaml:"region_name"`
	Interface          string `yaml:"interface"`
	IdentityAPIVersion int    `yaml:"identity_api_version"`
}

// existingPassword reads the admin password from an earlier clouds.yaml.
func (s *Service) existingPassword() string {
	raw, err := os.ReadFile(s.CloudsYAML())
	if err != nil {
		return ""
	}
	var f cloudsFile
	if yaml.Unmarshal(raw, &f) != nil {
		return ""
	}
	return f.Clouds["kumo"].Auth.Password
}

// writeCredentials writes clouds.yaml (cloud "kumo") and openrc, mode 0600.
func (s *Service) writeCredentials(password string) error {
	var e cloudEntry
	e.Auth.AuthURL = s.base + "/v3"
	e.Auth.Username = "admin"
	e.Auth.Password = password
	e.Auth.ProjectName = "admin"
	e.Auth.UserDomainName = "Default"
	e.Auth.ProjectDomainName = "Default"
	e.RegionName = s.cfg.Region
	e.Interface = "public"
	e.IdentityAPIVersion = 3
	raw, err := yaml.Marshal(cloudsFile{Clouds: map[string]cloudEntry{"kumo": e}})
	if err != nil {
		return err
	}
	if err := writeSecret(s.CloudsYAML(), raw); err != nil {
		return err
	}
	rc := fmt.Sprintf(`# kumo admin credentials: source this file to use the openstack CLI.
export OS_AUTH_URL=%q
export OS_USERNAME=admin
export OS_PASSWORD=%q
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=%q
export OS_INTERFACE=public
export OS_IDENTITY_API_VERSION=3
`, e.Auth.AuthURL, password, s.cfg.Region)
	return writeSecret(s.OpenRC(), []byte(rc))
}

// writeSecret writes a file readable only by its owner, atomically.
func writeSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
