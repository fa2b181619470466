package novaapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/db"
)

// TestJSONBodyMatchesEncodingJSON renders values and a server view both
// ways and wants the same bytes.
func TestJSONBodyMatchesEncodingJSON(t *testing.T) {
	odd := "q\"uote \\ <tag> & \x01\n\t\r \u2028\u2029 é 日本 \xff end"
	host, task := "host-1", store.TaskSpawning
	in := store.Instance{UUID: "0f1d2c3b-0000-4000-8000-000000000001", Name: odd, ProjectID: "p", UserID: "u",
		ImageRef: "img", FlavorID: "1", VCPUs: 1, MemoryMB: 64, Metadata: store.Specs{odd: odd, "b": "2", "a": ""},
		FlavorExtraSpecs: store.Specs{}, Host: &host, VMState: store.VMError, TaskState: &task, Description: &odd,
		Tags: db.TextArray{"x", odd}, CreatedAt: time.Unix(1700000000, 0), LaunchedAt: nil,
		Fault: &store.Fault{Code: 500, Message: odd, Created: time.Unix(1700000001, 0)}}
	s := New(Config{PublicURL: "http://kumo.test"}, Deps{})
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/", nil)
	for _, v := range []any{
		gin.H{"servers": []gin.H{s.serverView(c, in, Version{Major: 2, Minor: 96}), s.serverView(c, in, Version{Major: 2, Minor: 1})}},
		[]any{nil, 1, int64(-2), true, 1.5, []string{}, []string{odd}, gin.H{}, map[string]any{"k": []any{}}},
		odd, (*string)(nil),
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(jsonBody{v})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("jsonBody:\n%s\nencoding/json:\n%s", got, want)
		}
	}
}
