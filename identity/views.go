package identity

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/identity/store"
)

// Keystone's wire shapes. Field names follow the Keystone v3 API reference.

type link struct {
	Self string `json:"self"`
}

type listLinks struct {
	Self     string  `json:"self"`
	Previous *string `json:"previous"`
	Next     *string `json:"next"`
}

type domainView struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Enabled     bool           `json:"enabled"`
	Tags        []string       `json:"tags"`
	Options     map[string]any `json:"options"`
	Links       link           `json:"links"`
}

type projectView struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	DomainID    string         `json:"domain_id"`
	ParentID    *string        `json:"parent_id"`
	Enabled     bool           `json:"enabled"`
	IsDomain    bool           `json:"is_domain"`
	Tags        []string       `json:"tags"`
	Options     map[string]any `json:"options"`
	Links       link           `json:"links"`
}

type userView struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	DomainID          string         `json:"domain_id"`
	Enabled           bool           `json:"enabled"`
	DefaultProjectID  string         `json:"default_project_id,omitempty"`
	Description       string         `json:"description,omitempty"`
	Email             string         `json:"email,omitempty"`
	PasswordExpiresAt *string        `json:"password_expires_at"`
	Options           map[string]any `json:"options"`
	Links             link           `json:"links"`
}

type groupView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	DomainID    string `json:"domain_id"`
	Links       link   `json:"links"`
}

type roleView struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	DomainID    *string        `json:"domain_id"`
	Options     map[string]any `json:"options"`
	Links       link           `json:"links"`
}

type regionView struct {
	ID             string  `json:"id"`
	Description    string  `json:"description"`
	ParentRegionID *string `json:"parent_region_id"`
	Links          link    `json:"links"`
}

type serviceView struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	Links       link   `json:"links"`
}

type endpointView struct {
	ID        string `json:"id"`
	Interface string `json:"interface"`
	Region    string `json:"region"`
	RegionID  string `json:"region_id"`
	ServiceID string `json:"service_id"`
	URL       string `json:"url"`
	Enabled   bool   `json:"enabled"`
	Links     link   `json:"links"`
}

type appCredRole struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	DomainID *string `json:"domain_id"`
}

type appCredView struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	ProjectID    string        `json:"project_id"`
	ExpiresAt    *string       `json:"expires_at"`
	Unrestricted bool          `json:"unrestricted"`
	Roles        []appCredRole `json:"roles"`
	AccessRules  []any         `json:"access_rules"`
	Secret       string        `json:"secret,omitempty"`
	Links        link          `json:"links"`
}

// timeFormat is Keystone's timestamp format.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// timeFormatNoZ is the format Keystone uses, without a zone, for the
// expiry of users' passwords and of application credentials (clients such
// as gophercloud parse exactly this).
const timeFormatNoZ = "2006-01-02T15:04:05.000000"

func optTimeNoZ(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(timeFormatNoZ)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Service) url(path string) string { return s.base + "/v3" + path }

func (s *Service) domainView(d store.Domain) domainView {
	return domainView{ID: d.ID, Name: d.Name, Description: d.Description, Enabled: d.Enabled,
		Tags: []string{}, Options: map[string]any{}, Links: link{s.url("/domains/" + d.ID)}}
}

func (s *Service) projectView(p store.Project) projectView {
	parent := p.ParentID
	if parent == "" {
		parent = p.DomainID
	}
	return projectView{ID: p.ID, Name: p.Name, Description: p.Description, DomainID: p.DomainID,
		ParentID: &parent, Enabled: p.Enabled, IsDomain: p.IsDomain, Tags: nonNil(p.Tags),
		Options: map[string]any{}, Links: link{s.url("/projects/" + p.ID)}}
}

func (s *Service) userView(u store.User) userView {
	description, _ := u.Extra["description"].(string)
	email, _ := u.Extra["email"].(string)
	return userView{ID: u.ID, Name: u.Name, DomainID: u.DomainID, Enabled: u.Enabled,
		DefaultProjectID: u.DefaultProjectID, Description: description, Email: email,
		PasswordExpiresAt: optTimeNoZ(u.PasswordExpiresAt),
		Options:           map[string]any{}, Links: link{s.url("/users/" + u.ID)}}
}

func (s *Service) groupView(g store.Group) groupView {
	return groupView{ID: g.ID, Name: g.Name, Description: g.Description, DomainID: g.DomainID,
		Links: link{s.url("/groups/" + g.ID)}}
}

func (s *Service) roleView(r store.Role) roleView {
	return roleView{ID: r.ID, Name: r.Name, Description: r.Description, DomainID: optString(r.DomainID),
		Options: map[string]any{}, Links: link{s.url("/roles/" + r.ID)}}
}

func (s *Service) regionView(r store.Region) regionView {
	return regionView{ID: r.ID, Description: r.Description, ParentRegionID: optString(r.ParentRegionID),
		Links: link{s.url("/regions/" + r.ID)}}
}

func (s *Service) serviceView(v store.Service) serviceView {
	return serviceView{ID: v.ID, Type: v.Type, Name: v.Name, Description: v.Description, Enabled: v.Enabled,
		Links: link{s.url("/services/" + v.ID)}}
}

func (s *Service) endpointView(e store.Endpoint) endpointView {
	return endpointView{ID: e.ID, Interface: e.Interface, Region: e.RegionID, RegionID: e.RegionID,
		ServiceID: e.ServiceID, URL: e.URL, Enabled: e.Enabled, Links: link{s.url("/endpoints/" + e.ID)}}
}

// list wraps a collection the way Keystone does, with its links.
func (s *Service) list(c *gin.Context, key string, items any) gin.H {
	self := s.base + c.Request.URL.Path[len("/identity"):]
	if q := c.Request.URL.RawQuery; q != "" {
		self += "?" + q
	}
	return gin.H{key: items, "links": listLinks{Self: self}}
}
