package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/domains"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/spf13/cobra"
)

// globalFlags are the options every verb shares, set on the root command.
type globalFlags struct {
	cloud   string
	format  string
	timeout time.Duration
}

var global globalFlags

// addGlobalFlags registers --os-cloud, -f/--format and --timeout.
func addGlobalFlags(root *cobra.Command) {
	root.PersistentFlags().StringVar(&global.cloud, "os-cloud", "", "cloud name in clouds.yaml [OS_CLOUD]")
	root.PersistentFlags().StringVarP(&global.format, "format", "f", "table", "output format: table or json")
	root.PersistentFlags().DurationVar(&global.timeout, "timeout", 60*time.Second, "give up on a request after this long")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if global.format != "table" && global.format != "json" {
			return badFormat()
		}
		return nil
	}
}

// describe turns an error into kumo's one-line message; a cloud's error
// response becomes "HTTP <code>: <its message>" rather than gophercloud's
// dump of the request and body.
func describe(err error) string {
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &unexpected) {
		// Keystone wraps the message in "error", Nova in the fault's name
		// ("badRequest", "itemNotFound", ...): take the one wrapper's.
		var body map[string]struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(unexpected.Body))
		if json.Unmarshal(unexpected.Body, &body) == nil && len(body) == 1 {
			for _, v := range body {
				if v.Message != "" {
					msg = v.Message
				}
			}
		}
		return fmt.Sprintf("%s %s: HTTP %d: %s", unexpected.Method, unexpected.URL, unexpected.Actual, msg)
	}
	return err.Error()
}

// session is an authenticated connection to a kumo cloud.
type session struct {
	ctx      context.Context
	provider *gophercloud.ProviderClient
	identity *gophercloud.ServiceClient
	token    tokens.CreateResult
}

// connect authenticates the way the openstack CLI does: the cloud named by
// --os-cloud or OS_CLOUD in clouds.yaml (OS_CLIENT_CONFIG_FILE, else
// ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml),
// otherwise the OS_* variables.
func connect(cmd *cobra.Command) (*session, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if global.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, global.timeout)
		cobra.OnFinalize(cancel)
	}
	opts, eo, tlsConfig, err := authOptions()
	if err != nil {
		return nil, err
	}
	opts.AllowReauth = true
	pc, err := openstack.NewClient(opts.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("auth URL %q: %v", opts.IdentityEndpoint, err)
	}
	if tlsConfig != nil {
		pc.HTTPClient = http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsConfig}}
	}
	pc.UserAgent.Prepend("kumo/" + version)
	if err := openstack.Authenticate(ctx, pc, opts); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	id, err := openstack.NewIdentityV3(pc, eo)
	if err != nil {
		return nil, err
	}
	res, ok := pc.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return nil, errors.New("authentication returned no v3 token")
	}
	return &session{ctx: ctx, provider: pc, identity: id, token: res}, nil
}

// authOptions reads clouds.yaml or, with no cloud named, OS_* variables.
func authOptions() (gophercloud.AuthOptions, gophercloud.EndpointOpts, *tls.Config, error) {
	name := global.cloud
	if name == "" {
		name = os.Getenv("OS_CLOUD")
	}
	if name != "" {
		opts, eo, tlsConfig, err := clouds.Parse(clouds.WithCloudName(name))
		if err != nil {
			return opts, eo, nil, fmt.Errorf("cloud %s: %v", name, err)
		}
		if opts.IdentityEndpoint == "" {
			return opts, eo, nil, fmt.Errorf("cloud %s has no auth_url", name)
		}
		return opts, eo, tlsConfig, nil
	}
	if os.Getenv("OS_AUTH_URL") == "" {
		return gophercloud.AuthOptions{}, gophercloud.EndpointOpts{}, nil,
			errors.New("no cloud: use --os-cloud or OS_CLOUD with a clouds.yaml, or set OS_AUTH_URL and credentials (source openrc)")
	}
	opts, err := envAuthOptions()
	if err != nil {
		return opts, gophercloud.EndpointOpts{}, nil, err
	}
	eo := gophercloud.EndpointOpts{Region: os.Getenv("OS_REGION_NAME")}
	switch os.Getenv("OS_INTERFACE") {
	case "internal", "internalURL":
		eo.Availability = gophercloud.AvailabilityInternal
	case "admin", "adminURL":
		eo.Availability = gophercloud.AvailabilityAdmin
	}
	return opts, eo, nil, nil
}

// envAuthOptions reads the OS_* variables openrc files set, as the
// openstack CLI does (gophercloud's AuthOptionsFromEnv knows neither
// OS_USER_DOMAIN_* nor OS_PROJECT_DOMAIN_*).
func envAuthOptions() (gophercloud.AuthOptions, error) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	opts := gophercloud.AuthOptions{
		IdentityEndpoint:            env("OS_AUTH_URL"),
		Username:                    env("OS_USERNAME"),
		UserID:                      env("OS_USER_ID", "OS_USERID"),
		Password:                    env("OS_PASSWORD"),
		TokenID:                     env("OS_TOKEN"),
		DomainID:                    env("OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"),
		DomainName:                  env("OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"),
		ApplicationCredentialID:     env("OS_APPLICATION_CREDENTIAL_ID"),
		ApplicationCredentialName:   env("OS_APPLICATION_CREDENTIAL_NAME"),
		ApplicationCredentialSecret: env("OS_APPLICATION_CREDENTIAL_SECRET"),
	}
	if opts.ApplicationCredentialID != "" || opts.ApplicationCredentialName != "" {
		// An application credential carries its own scope.
		if opts.ApplicationCredentialSecret == "" {
			return opts, errors.New("OS_APPLICATION_CREDENTIAL_SECRET is not set")
		}
		opts.Password = ""
		return opts, nil
	}
	if opts.Username == "" && opts.UserID == "" && opts.TokenID == "" {
		return opts, errors.New("OS_USERNAME (or OS_USER_ID, OS_TOKEN, OS_APPLICATION_CREDENTIAL_ID) is not set")
	}
	if opts.Username != "" && opts.UserID == "" && opts.DomainID == "" && opts.DomainName == "" {
		opts.DomainID = "default"
	}
	switch {
	case os.Getenv("OS_SYSTEM_SCOPE") == "all":
		opts.Scope = &gophercloud.AuthScope{System: true}
	case env("OS_PROJECT_ID", "OS_TENANT_ID") != "":
		opts.Scope = &gophercloud.AuthScope{ProjectID: env("OS_PROJECT_ID", "OS_TENANT_ID")}
	case env("OS_PROJECT_NAME", "OS_TENANT_NAME") != "":
		opts.Scope = &gophercloud.AuthScope{ProjectName: env("OS_PROJECT_NAME", "OS_TENANT_NAME"),
			DomainID: env("OS_PROJECT_DOMAIN_ID"), DomainName: env("OS_PROJECT_DOMAIN_NAME")}
		if opts.Scope.DomainID == "" && opts.Scope.DomainName == "" {
			opts.Scope.DomainID = "default"
		}
	case env("OS_DOMAIN_ID") != "":
		opts.Scope = &gophercloud.AuthScope{DomainID: env("OS_DOMAIN_ID")}
	case env("OS_DOMAIN_NAME") != "":
		opts.Scope = &gophercloud.AuthScope{DomainName: env("OS_DOMAIN_NAME")}
	}
	return opts, nil
}

// userID is the authenticated user's id.
func (s *session) userID() (string, error) {
	u, err := s.token.ExtractUser()
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// isNotFound reports a 404 from the cloud.
func isNotFound(err error) bool { return gophercloud.ResponseCodeIs(err, http.StatusNotFound) }

// findDomain resolves a domain name or id ("Default" or "default").
func (s *session) findDomain(ref string) (*domains.Domain, error) {
	d, err := domains.Get(s.ctx, s.identity, ref).Extract()
	if err == nil {
		return d, nil
	}
	if !isNotFound(err) && !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
		return nil, err
	}
	pages, err := domains.List(s.identity, domains.ListOpts{Name: ref}).AllPages(s.ctx)
	if err != nil {
		return nil, err
	}
	all, err := domains.ExtractDomains(pages)
	if err != nil {
		return nil, err
	}
	return only(all, "domain", ref)
}

// only returns the one match of a lookup by name.
func only[T any](matches []T, kind, ref string) (*T, error) {
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("no %s with a name or id of %q", kind, ref)
	case 1:
		return &matches[0], nil
	}
	return nil, fmt.Errorf("more than one %s is named %q: use its id (or --domain)", kind, ref)
}

// domainID resolves an optional --domain flag to an id ("" stays "").
func (s *session) domainID(ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	d, err := s.findDomain(ref)
	if err != nil {
		return "", err
	}
	return d.ID, nil
}
