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
// The others change servers and the APIs around them, which are not served
// yet and answer 404 at every version.

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
