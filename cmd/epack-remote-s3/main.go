package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/adapterhandler"
	"github.com/evidencerelay/epack/registry/s3store"
)

// options are the registry's: packs up to S3's largest object, in one PUT
// up to 5 GiB and in parts from the multipart threshold on.
func options(expiry time.Duration, threshold int64, partURLs int, partMD5 bool) registry.Options {
	return registry.Options{
		Name: "s3", MaxPackBytes: s3store.MaxObjectBytes, MaxSingleBytes: s3store.MaxPackBytes,
		Multipart: s3store.MultipartLimits(threshold, partURLs, partMD5), MaxRunsPerSync: 1000, PresignExpiry: expiry,
	}
}

func main() {
	threshold, partURLs, partMD5 := s3store.MultipartOf(os.Getenv(protocol.EnvRemoteConfig))
	h := adapterhandler.New(registry.New(nil, options(0, threshold, partURLs, partMD5)))
	h.Capabilities.Features.LegalHold = s3store.ObjectLockOf(os.Getenv(protocol.EnvRemoteConfig))
	if len(os.Args) == 2 && os.Args[1] != protocol.CmdCapabilities && os.Args[1] != adapter.CmdVersion {
		reg, err := open()
		if err != nil {
			h = adapterhandler.Unavailable(h, fmt.Errorf("S3 registry: %w", err))
		} else {
			h = adapterhandler.New(reg)
		}
	}
	adapter.Serve(h)
}

// open opens the registry the host named: EPACK_REMOTE_CONFIG (our host's
// extensions) or, when that has no bucket, S3_REGISTRY_URL (a host that
// passes only the remote's secrets:).
func open() (*registry.Registry, error) {
	cfg, warnings, err := s3store.LoadConfig(os.Getenv(protocol.EnvRemoteConfig), os.Getenv(s3store.EnvRegistryURL))
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "epack-remote-s3: warning:", w)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store, err := s3store.New(ctx, cfg, s3store.Options{})
	if err != nil {
		return nil, err
	}
	return registry.New(store, options(cfg.PresignExpiry, cfg.MultipartThreshold, cfg.MultipartPartURLs, !cfg.MultipartNoPartMD5)), nil
}
