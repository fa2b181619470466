// Package configdrive owns the OpenStack config drive: the `config-2`
// ISO9660 volume with openstack/latest/meta_data.json, user_data,
// network_data.json and vendor_data, as Nova writes it and cloud-init reads
// it; it must not know how instances are created.
//
// A Drive is plain data. Files renders the tree Nova writes (openstack/latest
// plus the dated copies openstack/<version>/, each with the keys that version
// had); WriteISO packs it with genisoimage using Nova's flags.
package configdrive
