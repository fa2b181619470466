package novaapi

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/quota"
)

// parseCounts reads min_count, max_count and return_reservation_id.
func parseCounts(m map[string]json.RawMessage, r *serverRequest) error {
	lo, err := intField(m, "min_count", 1, 1)
	if err != nil {
		return err
	}
	hi, err := intField(m, "max_count", 1, lo)
	if err != nil {
		return err
	}
	if lo > hi {
		return api.BadRequest("min_count must be <= max_count")
	}
	r.minCount, r.maxCount = int(lo), int(hi)
	r.returnReservation, err = boolField(m, "return_reservation_id", false)
	return err
}

// parseHints reads the scheduler hints kumo acts on: group.
func parseHints(outer map[string]json.RawMessage, r *serverRequest) error {
	for _, key := range []string{"os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"} {
		raw, ok := outer[key]
		if !ok {
			continue
		}
		var hints map[string]json.RawMessage
		if err := json.Unmarshal(raw, &hints); err != nil || hints == nil {
			return api.BadRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", key, raw, raw)
		}
		g, ok, err := stringField(hints, "group", 1, 255)
		if err != nil {
			return err
		}
		if ok {
			if _, err := uuid.Parse(g); err != nil {
				return api.BadRequest("Invalid input for field/attribute group. Value: %s. '%s' is not a 'uuid'", g, g)
			}
			r.group = strings.ToLower(g)
		}
	}
	return nil
}

// reservationID is a new multi-create reservation ID, Nova's "r-" and 8
// characters.
func reservationID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		b[i] = chars[n.Int64()]
	}
	return "r-" + string(b)
}

// fitCount is how many of min..max instances like in the project's quota
// can take: max if they fit, else as many as fit if at least min, as
// Nova's multi-create does; otherwise the error names the resource.
func (s *Service) fitCount(c *gin.Context, in store.Instance, lo, hi int) (int, error) {
	if hi == 1 {
		return 1, nil
	}
	usage, err := s.quota.Usage(c.Request.Context(), in.ProjectID)
	if err != nil {
		return 0, err
	}
	n := hi
	for res, per := range quotaOf(in) {
		u, ok := usage[res]
		if !ok || u.Limit < 0 || per <= 0 {
			continue
		}
		free := max(u.Limit-u.InUse-u.Reserved, 0)
		if fit := int(free / per); fit < n {
			n = fit
			if n < lo {
				name := strings.TrimPrefix(res, "compute.")
				return 0, api.QuotaExceeded("Quota exceeded for %s: Requested %d, but already used %d of %d %s",
					name, int64(lo)*per, u.InUse+u.Reserved, u.Limit, name)
			}
		}
	}
	return n, nil
}

// createInstances inserts the instances of one create request with their
// quota, create actions and group membership in one transaction.
func (s *Service) createInstances(c *gin.Context, tmpl store.Instance, r serverRequest) ([]store.Instance, error) {
	ctx := c.Request.Context()
	cl := api.Claims(c)
	if err := s.checkMetadataQuota(c, tmpl.ProjectID, len(tmpl.Metadata)); err != nil {
		return nil, err
	}
	if r.group != "" {
		g, err := s.store.GetServerGroup(ctx, r.group)
		if errors.Is(err, store.ErrNotFound) || err == nil && g.ProjectID != tmpl.ProjectID && !isAdmin(c) {
			return nil, api.BadRequest("Instance group %s could not be found.", r.group)
		}
		if err != nil {
			return nil, err
		}
	}
	n, err := s.fitCount(c, tmpl, r.minCount, r.maxCount)
	if err != nil {
		return nil, err
	}
	resv := reservationID()
	ins := make([]store.Instance, n)
	charge := map[string]int64{}
	for i := range ins {
		in := tmpl
		in.UUID, in.ReservationID, in.LaunchIndex = uuid.NewString(), resv, i
		if r.maxCount > 1 {
			// Nova's multi_instance_display_name_template.
			in.Name = fmt.Sprintf("%s-%d", tmpl.Name, i+1)
		}
		ins[i] = in
		for k, v := range quotaOf(in) {
			charge[k] += v
		}
	}
	var memberLimit int64 = -1
	if r.group != "" {
		lim, err := s.quota.Limits(ctx, tmpl.ProjectID)
		if err != nil {
			return nil, err
		}
		if l, ok := lim[ResourceServerGroupMembers]; ok {
			memberLimit = l
		}
	}
	err = s.store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ConsumeQuota(ctx, s.quota, cl.ProjectID, charge); err != nil {
			return err
		}
		for i := range ins {
			if err := tx.CreateInstance(ctx, &ins[i]); err != nil {
				return err
			}
			if err := tx.AddInstanceAction(ctx, &store.InstanceAction{InstanceUUID: ins[i].UUID, Action: "create",
				RequestID: api.RequestID(c), UserID: cl.UserID, ProjectID: cl.ProjectID}); err != nil {
				return err
			}
			if r.group == "" {
				continue
			}
			members, err := tx.AddServerGroupMember(ctx, r.group, ins[i].UUID)
			if err != nil {
				return err
			}
			if memberLimit >= 0 && int64(members) > memberLimit {
				return api.QuotaExceeded("Quota exceeded, too many servers in group")
			}
		}
		return nil
	})
	var oq *quota.OverQuotaError
	if errors.As(err, &oq) {
		name := strings.TrimPrefix(oq.Resource, "compute.")
		return nil, api.QuotaExceeded("Quota exceeded for %s: Requested %d, but already used %d of %d %s",
			name, oq.Requested, oq.InUse, oq.Limit, name)
	}
	return ins, err
}
