package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// BindJSON decodes the request body into v and turns every failure into a
// typed error: oversized bodies are 413, malformed or empty ones 400.
func BindJSON(c *gin.Context, v any) error {
	if c.Request.Body == nil {
		return BadRequest("The request body is empty.")
	}
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return TooLarge("Request body is larger than the limit of %d bytes.", mbe.Limit)
		case errors.Is(err, io.EOF):
			return BadRequest("The request body is empty.")
		default:
			return BadRequest("Malformed request body: %v", err)
		}
	}
	return nil
}
