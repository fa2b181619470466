package cinderapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// versionDoc describes v3 as Cinder's version documents do.
func (s *Service) versionDoc() gin.H {
	return gin.H{
		"id": "v3.0", "status": "CURRENT", "version": MaxVersion.String(), "min_version": MinVersion.String(),
		"updated": "2023-08-31T00:00:00Z",
		"links": []gin.H{
			{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
			{"rel": "self", "href": s.cfg.PublicURL + Prefix + "/v3/"},
		},
		"media-types": []gin.H{{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}},
	}
}

// allVersions answers GET /volume/ with 300 Multiple Choices, as Cinder's
// root does.
func (s *Service) allVersions(*gin.Context) (*api.Response, error) {
	return &api.Response{Status: http.StatusMultipleChoices, Body: gin.H{"versions": []gin.H{s.versionDoc()}}}, nil
}

// v3Version answers GET /volume/v3/.
func (s *Service) v3Version(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"versions": []gin.H{s.versionDoc()}}), nil
}
