package api

import (
	"net/http"
	"strings"
)

// Dialect is the error vocabulary of one OpenStack service.
type Dialect int

// The dialects kumo speaks.
const (
	// DialectPlain is kumo's own: {"error": {"code", "title", "message"}}.
	DialectPlain Dialect = iota
	// DialectKeystone is Keystone's {"error": {"code", "title", "message"}}.
	DialectKeystone
	// DialectNova is Nova's {"itemNotFound": {"code", "message"}} family.
	DialectNova
	// DialectCinder shares Nova's shape.
	DialectCinder
	// DialectNeutron is {"NeutronError": {"type", "message", "detail"}}.
	DialectNeutron
	// DialectGlance nests {"code", "title", "message"} under one key, the
	// JSON shape glanceclient reads messages from (it takes "message" from
	// every top-level object).
	DialectGlance
	// DialectPlacement is Placement's {"errors": [{"status", "title",
	// "detail", "code", "request_id"}]}.
	DialectPlacement
)

// Body renders an error of this dialect as the JSON body clients expect.
func (d Dialect) Body(e *Error) any {
	status := d.Status(e.Kind)
	title := http.StatusText(status)
	switch d {
	case DialectNova, DialectCinder:
		fault := map[string]any{"code": status, "message": e.Message}
		if d == DialectCinder && e.Kind == KindQuotaExceeded {
			// Cinder's QuotaError carries Retry-After: 0, which its fault
			// body repeats as retryAfter.
			fault["retryAfter"] = "0"
		}
		return map[string]any{novaFaultName(e.Kind, status): fault}
	case DialectNeutron:
		t := e.Type
		if t == "" {
			t = strings.ReplaceAll(title, " ", "")
		}
		return map[string]any{"NeutronError": map[string]any{"type": t, "message": e.Message, "detail": ""}}
	case DialectGlance:
		return map[string]any{"error": map[string]any{"code": status, "title": title, "message": e.Message}}
	case DialectPlacement:
		code := e.Type
		if code == "" {
			code = "placement.undefined_code"
		}
		return map[string]any{"errors": []any{map[string]any{
			"status": status, "title": title, "detail": e.Message, "code": code, "request_id": e.RequestID,
		}}}
	default:
		return map[string]any{"error": map[string]any{"code": status, "title": title, "message": e.Message}}
	}
}

// novaFaultName is the top-level key Nova and Cinder wrap an error in.
func novaFaultName(k Kind, status int) string {
	switch k {
	case KindBadRequest:
		return "badRequest"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "itemNotFound"
	case KindConflict:
		return "conflictingRequest"
	case KindTooLarge, KindQuotaExceeded:
		if status == http.StatusForbidden {
			return "forbidden"
		}
		return "overLimit"
	case KindNotImplemented:
		return "notImplemented"
	case KindUnavailable:
		return "serviceUnavailable"
	case KindMethodNotAllowed:
		return "badMethod"
	case KindUnsupportedMediaType:
		return "badMediaType"
	default:
		return "computeFault"
	}
}
