// Package metadata is the network service's metadata proxy: it answers
// guests' requests to 169.254.169.254 (handed over by network/datapath
// with the network and source address the kernel saw), finds the port
// holding that address on that network, asks compute for the instance
// behind it (rpc.SubjInstanceMetadata) and renders Nova's metadata trees:
// the OpenStack one (/openstack/<version>/meta_data.json, user_data,
// vendor_data.json) and the EC2 one (/<version>/meta-data/..., user-data).
//
// It owns the rendering and the lookup only; it never trusts headers the
// guest sent, writes nothing, and must not import compute packages.
package metadata
