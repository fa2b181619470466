package novaapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kumo-cloud/kumo/api"
	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

func TestParseNetworks(t *testing.T) {
	const net = "3f1c0e4a-6a52-4d6b-9a1e-0b7a3f5d2c11"
	const port = "9b2e6f0c-1d3a-4e5f-8a7b-6c5d4e3f2a10"
	for _, tc := range []struct {
		name, body string
		minor      int
		want       *store.RequestedNetworks
		err        string
	}{
		{"absent before 2.37", `{}`, 36, &store.RequestedNetworks{Mode: store.NetworksAny}, ""},
		{"absent from 2.37", `{}`, 37, nil, "'networks' is a required property"},
		{"none", `{"networks":"none"}`, 37, &store.RequestedNetworks{Mode: store.NetworksNone}, ""},
		{"auto", `{"networks":"auto"}`, 37, &store.RequestedNetworks{Mode: store.NetworksAuto}, ""},
		{"auto before 2.37", `{"networks":"auto"}`, 36, nil, "is not of type 'array'"},
		{"list", `{"networks":[{"uuid":"` + net + `","fixed_ip":"10.0.0.5"},{"port":"` + port + `"}],"security_groups":[{"name":"web"}]}`, 37,
			&store.RequestedNetworks{Mode: store.NetworksList, Networks: []rpc.NetworkRequest{{NetworkID: net, FixedIP: "10.0.0.5"}, {PortID: port}},
				SecurityGroups: []string{"web"}}, ""},
		{"bad uuid", `{"networks":[{"uuid":"nope"}]}`, 37, nil, "Bad networks format: network uuid is not in proper format (nope)"},
		{"bad ip", `{"networks":[{"uuid":"` + net + `","fixed_ip":"10.0.0.300"}]}`, 37, nil, "Invalid fixed IP address (10.0.0.300)"},
		{"bad port", `{"networks":[{"port":"x"}]}`, 37, nil, "port uuid is not in proper format (x)"},
		{"unknown key", `{"networks":[{"uuid":"` + net + `","bogus":1}]}`, 37, nil, "'bogus' was unexpected"},
		{"group without name", `{"networks":"none","security_groups":[{}]}`, 37, nil, "'name' is a required property"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tc.body), &m); err != nil {
				t.Fatal(err)
			}
			got, err := parseNetworks(m, Version{Major: 2, Minor: tc.minor})
			if tc.err != "" {
				var ae *api.Error
				if !errors.As(err, &ae) || ae.Kind != api.KindBadRequest || !strings.Contains(ae.Message, tc.err) {
					t.Fatalf("err = %v, want 400 with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestAddressesView(t *testing.T) {
	info := store.NetworkInfo{{ID: "p1", NetworkName: "private", MAC: "fa:16:3e:00:00:01",
		FixedIPs: []rpc.FixedIP{{Address: "10.0.0.5", Version: 4}}, FloatingIPs: []string{"172.24.4.20"}}}
	raw, err := appendJSON(nil, addressesView(info))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"private":[{"OS-EXT-IPS-MAC:mac_addr":"fa:16:3e:00:00:01","OS-EXT-IPS:type":"fixed","addr":"10.0.0.5","version":4},` +
		`{"OS-EXT-IPS-MAC:mac_addr":"fa:16:3e:00:00:01","OS-EXT-IPS:type":"floating","addr":"172.24.4.20","version":4}]}`
	if string(raw) != want {
		t.Fatalf("addresses = %s", raw)
	}
	std, _ := json.Marshal(addressesView(info))
	if string(std) != want {
		t.Fatalf("encoding/json differs: %s", std)
	}
}
