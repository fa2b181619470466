package neutronapi

import (
	"errors"
	"fmt"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/network/store"
)

// badRequest is Neutron's 400 BadRequest.
func badRequest(format string, args ...any) error {
	return api.BadRequest(format, args...).WithType("BadRequest")
}

// invalidInput is Neutron's 400 InvalidInput for one attribute.
func invalidInput(attr string, _ any, format string, args ...any) error {
	return api.BadRequest("Invalid input for %s. Reason: %s.", attr, fmt.Sprintf(format, args...)).WithType("InvalidInput")
}

// notFound is a 404 of Neutron type typ ("NetworkNotFound").
func notFound(typ, format string, args ...any) error {
	return api.NotFound(format, args...).WithType(typ)
}

// conflict is a 409 of Neutron type typ ("IpAddressInUse").
func conflict(typ, format string, args ...any) error {
	return api.Conflict(format, args...).WithType(typ)
}

// Not-found errors of each resource, with Neutron's messages.
func networkNotFound(id string) error {
	return notFound("NetworkNotFound", "Network %s could not be found.", id)
}

func subnetNotFound(id string) error {
	return notFound("SubnetNotFound", "Subnet %s could not be found.", id)
}

func portNotFound(id string) error {
	return notFound("PortNotFound", "Port %s could not be found.", id)
}

func routerNotFound(id string) error {
	return notFound("RouterNotFound", "Router %s could not be found", id)
}

func floatingIPNotFound(id string) error {
	return notFound("FloatingIPNotFound", "Floating IP %s could not be found", id)
}

func securityGroupNotFound(id string) error {
	return notFound("SecurityGroupNotFound", "Security group %s does not exist", id)
}

func securityGroupRuleNotFound(id string) error {
	return notFound("SecurityGroupRuleNotFound", "Security group rule %s does not exist", id)
}

// storeError maps a store or quota error to Neutron's: a missing row is
// notFn's 404, over quota is 409 OverQuota, anything else internal.
func storeError(err error, notFn func(string) error, id string) error {
	var oq *quota.OverQuotaError
	var ae *api.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case errors.As(err, &oq):
		return api.QuotaExceeded("Quota exceeded for resources: ['%s'].", quotaName(oq.Resource)).WithType("OverQuota")
	case errors.Is(err, store.ErrNotFound) && notFn != nil:
		return notFn(id)
	}
	return api.Internal(err)
}
