package cinderapi

import (
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/internal/rpc"
	"github.com/kumo-cloud/kumo/storage/volume/store"
)

// attachmentView is an attachment as Cinder's attachments API shows it.
func attachmentView(a store.Attachment, detail bool) gin.H {
	out := gin.H{"id": a.ID, "status": a.AttachStatus, "instance": a.InstanceUUID, "volume_id": a.VolumeID}
	if detail {
		out["attached_at"] = tsPtr(a.AttachTime)
		out["detached_at"] = nil
		out["attach_mode"] = a.AttachMode
		var info any
		if len(a.ConnectionInfo) > 0 {
			info = json.RawMessage(a.ConnectionInfo)
		}
		out["connection_info"] = info
	}
	return out
}

// connectorOf reads a connector given as a JSON object.
func connectorOf(raw json.RawMessage) (*rpc.Connector, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var conn rpc.Connector
	if err := json.Unmarshal(raw, &conn); err != nil {
		return nil, invalidInput("Invalid connector: %v", err)
	}
	return &conn, nil
}

// createAttachment is POST /attachments (3.27): reserve, and connect at
// once when a connector is given.
func (s *Service) createAttachment(c *gin.Context, ver Version) (*api.Response, error) {
	var body struct {
		Attachment *struct {
			VolumeUUID   string          `json:"volume_uuid"`
			InstanceUUID string          `json:"instance_uuid"`
			Connector    json.RawMessage `json:"connector"`
			Mode         string          `json:"mode"`
		} `json:"attachment"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	b := body.Attachment
	if b == nil {
		return nil, api.BadRequest("Missing required element 'attachment' in request body.")
	}
	if b.VolumeUUID == "" {
		return nil, api.BadRequest("Invalid input for field/attribute attachment. 'volume_uuid' is a required property")
	}
	if b.Mode != "" && !ver.At(54) {
		return nil, api.BadRequest("Invalid input for field/attribute attachment. Additional properties are not allowed ('mode' was unexpected)")
	}
	conn, err := connectorOf(b.Connector)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	k := callerOf(c)
	a, err := s.attachmentCreate(ctx, k, b.VolumeUUID, b.InstanceUUID, b.Mode)
	if err != nil {
		return nil, err
	}
	if conn != nil {
		if a, err = s.attachmentUpdate(ctx, k, a.ID, *conn, ""); err != nil {
			return nil, err
		}
	}
	return api.OK(gin.H{"attachment": attachmentView(a, true)}), nil
}

func (s *Service) listAttachments(c *gin.Context, v Version) (*api.Response, error) {
	return s.attachmentList(c, false)
}

func (s *Service) listAttachmentsDetail(c *gin.Context, v Version) (*api.Response, error) {
	return s.attachmentList(c, true)
}

func (s *Service) attachmentList(c *gin.Context, detail bool) (*api.Response, error) {
	k := callerOf(c)
	f := store.AttachmentFilter{ProjectID: k.project}
	if all, _ := boolParam(c.Query("all_tenants")); all && k.admin {
		f.ProjectID = c.Query("project_id")
	}
	if v, ok := c.GetQuery("volume_id"); ok {
		f.VolumeID = &v
	}
	if v, ok := c.GetQuery("instance_id"); ok {
		f.InstanceUUID = &v
	}
	if v, ok := c.GetQuery("status"); ok {
		f.Status = &v
	}
	atts, err := s.store.ListAttachments(c.Request.Context(), f)
	if err != nil {
		return nil, api.Internal(err)
	}
	atts, more, err := page(atts, func(a store.Attachment) string { return a.ID }, c)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(atts))
	for _, a := range atts {
		out = append(out, attachmentView(a, detail))
	}
	body := gin.H{"attachments": out}
	if more && len(atts) > 0 {
		kind := "attachments"
		if detail {
			kind = "attachments/detail"
		}
		body["attachments_links"] = s.nextLink(c, kind, atts[len(atts)-1].ID)
	}
	return api.OK(body), nil
}

func (s *Service) getAttachment(c *gin.Context, _ Version) (*api.Response, error) {
	return api.OK(gin.H{"attachment": attachmentView(c.MustGet(ctxAttachment).(store.Attachment), true)}), nil
}

// updateAttachment is PUT /attachments/{id}: the connector of the host
// about to plug the volume.
func (s *Service) updateAttachment(c *gin.Context, _ Version) (*api.Response, error) {
	var body struct {
		Attachment *struct {
			Connector json.RawMessage `json:"connector"`
		} `json:"attachment"`
	}
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if body.Attachment == nil {
		return nil, api.BadRequest("Missing required element 'attachment' in request body.")
	}
	conn, err := connectorOf(body.Attachment.Connector)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, api.BadRequest("Invalid input for field/attribute attachment. 'connector' is a required property")
	}
	a := c.MustGet(ctxAttachment).(store.Attachment)
	a, err = s.attachmentUpdate(c.Request.Context(), callerOf(c), a.ID, *conn, "")
	if err != nil {
		return nil, err
	}
	return api.OK(gin.H{"attachment": attachmentView(a, true)}), nil
}

// deleteAttachment removes an attachment and answers with the volume's
// remaining ones, as Cinder does.
func (s *Service) deleteAttachment(c *gin.Context, _ Version) (*api.Response, error) {
	a := c.MustGet(ctxAttachment).(store.Attachment)
	ctx := c.Request.Context()
	if err := s.attachmentDelete(ctx, callerOf(c), a.ID, false); err != nil {
		return nil, err
	}
	rest, err := s.store.VolumeAttachments(ctx, a.VolumeID)
	if err != nil {
		return nil, api.Internal(err)
	}
	out := make([]any, 0, len(rest))
	for _, r := range rest {
		out = append(out, attachmentView(r, false))
	}
	return api.OK(gin.H{"attachments": out}), nil
}

// attachmentAction is POST /attachments/{id}/action: os-complete (3.44).
func (s *Service) attachmentAction(c *gin.Context, _ Version) (*api.Response, error) {
	var body map[string]json.RawMessage
	if err := api.BindJSON(c, &body); err != nil {
		return nil, err
	}
	if _, ok := body["os-complete"]; !ok || len(body) != 1 {
		return nil, api.BadRequest("There is no such action: %s", firstKey(body))
	}
	a := c.MustGet(ctxAttachment).(store.Attachment)
	if err := s.attachmentComplete(c.Request.Context(), callerOf(c), a.ID); err != nil {
		return nil, err
	}
	return api.NoContent(), nil
}

func firstKey(m map[string]json.RawMessage) string {
	for k := range m {
		return k
	}
	return ""
}
