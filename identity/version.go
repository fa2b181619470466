package identity

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
)

// versionDoc describes Keystone v3 the way keystoneauth and gophercloud
// discover it.
func (s *Service) versionDoc() gin.H {
	return gin.H{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []gin.H{{"rel": "self", "href": s.base + "/v3/"}},
		"media-types": []gin.H{{
			"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

// versions answers GET /identity with Keystone's 300 Multiple Choices.
func (s *Service) versions(*gin.Context) (*api.Response, error) {
	return &api.Response{Status: http.StatusMultipleChoices, Body: gin.H{"versions": gin.H{"values": []gin.H{s.versionDoc()}}}}, nil
}

// version answers GET /identity/v3.
func (s *Service) version(*gin.Context) (*api.Response, error) {
	return api.OK(gin.H{"version": s.versionDoc()}), nil
}
