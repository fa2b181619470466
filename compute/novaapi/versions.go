package novaapi

import (
	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// Why MaxVersion is 2.96: every microversion up to it that changes a
// resource kumo serves is implemented:
//
//	2.2   key pair type (ssh, x509); create answers 201, delete 204
//	2.10  key pairs of another user for admins (user_id)
//	2.35  key pair pagination (limit, marker, keypairs_links)
//	2.36  network quotas and limits leave quota sets and /limits
//	2.39  maxImageMeta leaves /limits
//	2.55  flavor description; PUT /flavors/{id}
//	2.57  personality-file quotas leave quota sets and /limits
//	2.61  extra_specs embedded in flavor views
//	2.75  swap is 0, not "", when a flavor has none
//	2.86  known flavor extra specs are validated (see extraspecs.go)
//	2.92  key pair generation removed; names may hold '@' and '.'
//
// Servers and the APIs around them:
//
//	2.9   locked in the server view
//	2.11  forced_down of services
//	2.13  project_id and user_id of server groups
//	2.15  soft-affinity and soft-anti-affinity groups
//	2.19  server description (create, update, view)
//	2.21  instance actions of deleted servers
//	2.26  server tags (/tags, view, list filters); 2.52 tags at create
//	2.28  hypervisor cpu_info as an object
//	2.33  hypervisor pagination
//	2.47  flavor embedded in the server view
//	2.51  action events shown to non-admins (no traceback)
//	2.53  service and hypervisor UUIDs; PUT /os-services/{id}
//	2.58  instance action pagination, changes-since, updated_at
//	2.62  host and hostId of action events
//	2.64  server group policy and rules (max_server_per_host)
//	2.66  changes-before
//	2.71  server_groups in the server view
//	2.73  locked_reason
//	2.84  details of action events
//	2.88  hypervisor statistics and resource fields removed
//	2.90  hostname at create and update
//
// The others change APIs kumo does not serve yet (volumes, networks,
// migrations, ...), which answer 404 at every version.

const (
	updatedV20 = "2011-01-21T11:33:21Z"
	updatedV21 = "2013-07-23T11:33:21Z"
)

func (s *Service) versionView(legacy bool) gin.H {
	if legacy {
		return gin.H{"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": updatedV20,
			"links": []gin.H{{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v2/"}}}
	}
	return gin.H{"id": "v2.1", "status": "CURRENT", "version": MaxVersion.String(), "min_version": MinVersion.String(),
		"updated": updatedV21, "links": []gin.H{{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v2.1/"}}}
}

// versions answers GET /compute with both API versions.
func (s *Service) versions(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"versions": []gin.H{s.versionView(true), s.versionView(false)}}), nil
}

// version answers GET /compute/v2.1 (or /v2) with that version's document.
func (s *Service) version(legacy bool) api.Handler {
	return func(*gin.Context) (*api.Response, error) {
		v := s.versionView(legacy)
		v["media-types"] = []gin.H{{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}}
		v["links"] = append(v["links"].([]gin.H), gin.H{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"})
		return api.OK(gin.H{"version": v}), nil
	}
}
