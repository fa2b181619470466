package inspect

import "path/filepath"

// vmdkAllowedCreateTypes are the self-contained VMDK variants: one file,
// no descriptor pointing elsewhere.
var vmdkAllowedCreateTypes = map[string]bool{
	"monolithicSparse": true,
	"streamOptimized":  true,
}

// vmdkNoParent is the parent CID of a VMDK without a parent.
const vmdkNoParent = 0xffffffff

// checkInfo applies the format-independent rules to qemu-img's report of
// the image at path.
func checkInfo(info *qemuInfo, path string) error {
	if info.BackingFilename != "" || info.FullBackingFilename != "" || info.BackingFormat != "" {
		return refuse("%s images with a backing file are not allowed", glanceName(info.Format))
	}
	fs := info.FormatSpecific
	if fs == nil {
		if info.Format == "qcow2" || info.Format == "vmdk" {
			return refuse("image could not be inspected: qemu-img gave no %s details", info.Format)
		}
		return nil
	}
	if fs.Data.Corrupt {
		return refuse("%s image is marked corrupt", glanceName(info.Format))
	}
	switch info.Format {
	case "qcow2":
		if fs.Data.DataFile != nil {
			return refuse("qcow2 images with an external data file are not allowed")
		}
	case "vmdk":
		return checkVMDK(fs.Data, path)
	}
	return nil
}

func checkVMDK(d formatSpecificData, path string) error {
	if !vmdkAllowedCreateTypes[d.CreateType] {
		return refuse("VMDK create type %q is not allowed (only monolithicSparse and streamOptimized)", d.CreateType)
	}
	if d.ParentCID != nil && *d.ParentCID != vmdkNoParent {
		return refuse("VMDK images with a parent disk are not allowed")
	}
	if len(d.Extents) == 0 {
		return refuse("image could not be inspected: VMDK reports no extents")
	}
	for _, e := range d.Extents {
		if filepath.Clean(e.Filename) != filepath.Clean(path) {
			return refuse("VMDK images with extents in other files are not allowed")
		}
	}
	return nil
}
