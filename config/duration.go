package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxRemoteTimeout is the largest accepted remotes.<name>.timeout.
const MaxRemoteTimeout = time.Hour

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses a Go duration string such as "90s" or "2m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: timeout must be a duration string such as \"90s\"", n.Line)
	}
	if n.Tag == "!!null" || n.Value == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (use a Go duration such as \"90s\" or \"2m\")", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// IsZero lets omitempty drop an unset duration.
func (d Duration) IsZero() bool { return d == 0 }
