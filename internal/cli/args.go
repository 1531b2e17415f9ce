package cli

import (
	"fmt"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/spf13/cobra"
)

// Positional-argument validators. They say what cobra's own validators say,
// but as errcode.InvalidInput errors, so a wrong argument count is a usage
// error (exit 2) by its code, never by its message text.

func usageError(cmd *cobra.Command, format string, args ...any) error {
	return errcode.New(errcode.InvalidInput, format, args...).WithHint("usage: %s", cmd.UseLine())
}

// noArgs refuses any positional argument. On a command with subcommands an
// argument is an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return unknownCommand(cmd, args[0])
}

// unknownCommand reports name as no subcommand of cmd, suggesting close ones.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errcode.New(errcode.InvalidInput, "%s", msg).WithHint("run '%s --help' for the commands", cmd.CommandPath())
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(cmd, "accepts %d arg(s), received %d", n, len(args))
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError(cmd, "requires at least %d arg(s), only received %d", n, len(args))
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError(cmd, "accepts at most %d arg(s), received %d", n, len(args))
		}
		return nil
	}
}

// flagError makes every flag parsing error (unknown flag, missing or bad
// value) a coded usage error naming the command.
func flagError(c *cobra.Command, err error) error {
	return errcode.Wrap(errcode.InvalidInput, err, "%s", c.CommandPath()).WithHint("run '%s --help' for usage", c.CommandPath())
}

// refuseBlankFlags refuses name flags that were given but are blank
// (`--workspace ""`): leaving such a flag out means "use the configuration",
// and an empty value must not quietly mean the same.
func refuseBlankFlags(cmd *cobra.Command, flags ...string) error {
	for _, name := range flags {
		fl := cmd.Flags().Lookup(name)
		if fl != nil && fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
			return errcode.New(errcode.InvalidInput, "--%s is blank", name).
				WithHint("name the %s, or leave --%s out to use the one in epack.yaml", name, name)
		}
	}
	return nil
}
