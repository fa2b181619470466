package novaapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/micro"

	"github.com/kumo-cloud/kumo/compute/store"
	"github.com/kumo-cloud/kumo/compute/work"
	"github.com/kumo-cloud/kumo/internal/bus"
	"github.com/kumo-cloud/kumo/internal/rpc"
)

// startMetadataRPC serves rpc.SubjInstanceMetadata for the network
// service's metadata proxy.
func (s *Service) startMetadataRPC() error {
	svc, err := bus.AddService(s.bus, micro.Config{Name: "compute-instance-metadata", Version: "1.0.0"})
	if err != nil {
		return err
	}
	if err := svc.AddEndpoint("instance_metadata", bus.Handle(s.instanceMetadata), micro.WithEndpointSubject(rpc.SubjInstanceMetadata)); err != nil {
		_ = svc.Stop()
		return err
	}
	s.metadataRPC = svc
	return nil
}

// instanceMetadata is what a guest may learn about itself, from the
// instance row (unknown or deleted instance: bus.CodeNotFound).
func (s *Service) instanceMetadata(ctx context.Context, req rpc.InstanceMetadataRequest) (rpc.InstanceMetadata, error) {
	in, err := s.store.GetInstance(ctx, req.InstanceUUID)
	if errors.Is(err, store.ErrNotFound) {
		return rpc.InstanceMetadata{}, bus.Errorf(bus.CodeNotFound, "instance %s not found", req.InstanceUUID)
	}
	if err != nil {
		return rpc.InstanceMetadata{}, err
	}
	md := rpc.InstanceMetadata{
		UUID: in.UUID, Name: in.Name, Hostname: work.Hostname(in.Name), ProjectID: in.ProjectID,
		AvailabilityZone: in.AvailabilityZone, LaunchIndex: in.LaunchIndex, ReservationID: in.ReservationID,
		ImageRef: in.ImageRef, FlavorName: in.FlavorName, Meta: map[string]string(in.Metadata),
	}
	if in.Hostname != nil && *in.Hostname != "" {
		md.Hostname = *in.Hostname
	}
	if md.AvailabilityZone == "" {
		md.AvailabilityZone = s.cfg.Zone
	}
	if in.KeyName != nil && in.PublicKey != nil {
		md.PublicKeys = map[string]string{*in.KeyName: *in.PublicKey}
	}
	if in.UserData != nil && *in.UserData != "" {
		if md.UserData, err = base64.StdEncoding.DecodeString(*in.UserData); err != nil {
			return rpc.InstanceMetadata{}, fmt.Errorf("instance %s user data: %w", in.UUID, err)
		}
	}
	return md, nil
}
