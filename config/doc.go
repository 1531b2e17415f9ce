// Package config finds the epack project root, loads and validates
// epack.yaml (remotes and environment overrides) and reads and writes the
// remotes section of epack.lock.yaml.
package config
