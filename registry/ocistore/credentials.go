package ocistore

import (
	"context"
	"errors"
	"os"
	"strings"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Names of the secrets epack-remote-oci reads (list them in the remote's
// secrets:).
const (
	EnvUsername = "OCI_USERNAME"
	EnvPassword = "OCI_PASSWORD"
	EnvToken    = "OCI_TOKEN"
)

// Credentials are what the adapter authenticates to the registry with.
// They stay in the adapter: no URL or header the host receives carries one.
type Credentials struct {
	// Username and Password: HTTP basic auth, or what the registry's token
	// service exchanges for a token (GHCR, Harbor, GitLab, ECR's AWS user).
	Username, Password string
	// Token: with Username, the password (a personal access token);
	// alone, a registry access token sent as Bearer.
	Token string
	// DockerConfig is a Docker config.json whose auths and credential
	// helpers (credsStore, credHelpers: docker-credential-<name> on PATH)
	// are used when Username and Token are empty; "" or a missing file
	// means none.
	DockerConfig string
}

// credentialSource resolves the credential for the configured registry
// and says where it came from.
type credentialSource struct {
	fn auth.CredentialFunc
	// user is the user name known up front ("" when it comes from a store).
	user string
	// from names the source for messages ("OCI_USERNAME/OCI_PASSWORD",
	// "the Docker config …", "" for none).
	from  string
	store credentials.Store
}

// newCredentialSource picks the credential: the secrets when given (only
// ever for the configured registry host), else the Docker config.
func newCredentialSource(registryHost string, c Credentials) (*credentialSource, error) {
	hostOnly := func(cred auth.Credential) auth.CredentialFunc {
		return func(_ context.Context, hostport string) (auth.Credential, error) {
			if strings.EqualFold(hostport, registryHost) {
				return cred, nil
			}
			return auth.EmptyCredential, nil
		}
	}
	switch {
	case c.Username != "" && c.Password != "":
		if c.Token != "" {
			return nil, bad("%s and %s are both set: give the token as the password, or one of them", EnvPassword, EnvToken)
		}
		return &credentialSource{fn: hostOnly(auth.Credential{Username: c.Username, Password: c.Password}), user: c.Username, from: EnvUsername + "/" + EnvPassword}, nil
	case c.Username != "" && c.Token != "":
		return &credentialSource{fn: hostOnly(auth.Credential{Username: c.Username, Password: c.Token}), user: c.Username, from: EnvUsername + "/" + EnvToken}, nil
	case c.Username != "":
		return nil, bad("%s is set without %s or %s", EnvUsername, EnvPassword, EnvToken)
	case c.Password != "":
		return nil, bad("%s is set without %s", EnvPassword, EnvUsername)
	case c.Token != "":
		return &credentialSource{fn: hostOnly(auth.Credential{AccessToken: c.Token}), from: EnvToken}, nil
	}
	if c.DockerConfig != "" {
		if _, err := os.Stat(c.DockerConfig); err == nil {
			store, err := credentials.NewStore(c.DockerConfig, credentials.StoreOptions{})
			if err != nil {
				return nil, bad("reading the Docker config %s: %v", c.DockerConfig, err)
			}
			return &credentialSource{fn: credentials.Credential(store), from: "the Docker config " + c.DockerConfig, store: store}, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, bad("reading the Docker config %s: %v", c.DockerConfig, err)
		}
	}
	return &credentialSource{fn: auth.StaticCredential(registryHost, auth.EmptyCredential)}, nil
}

// subject says who the adapter acts as: the user name, "token" for a bare
// access token, "anonymous" without credentials.
func (s *credentialSource) subject(ctx context.Context, registryHost string) string {
	if s.from == "" {
		return "anonymous"
	}
	user := s.user
	if user == "" && s.store != nil {
		if cred, err := s.store.Get(ctx, credentials.ServerAddressFromRegistry(registryHost)); err == nil {
			switch {
			case cred.Username != "":
				user = cred.Username
			case cred == auth.EmptyCredential:
				return "anonymous (nothing for " + registryHost + " in " + strings.TrimPrefix(s.from, "the ") + ")"
			}
		}
	}
	if user == "" {
		user = "token"
	}
	return user + " (from " + s.from + ")"
}

// has reports whether any credential is configured.
func (s *credentialSource) has() bool { return s.from != "" }
