// Package testadapters holds adapters used by tests: sdkadapter is a small
// remote adapter built with the adapter SDK whose behaviour is driven by the
// remote's extensions (EPACK_REMOTE_CONFIG); upstreamsdk writes byte for byte
// what an adapter built with the existing epack tool's Go SDK writes.
package testadapters
