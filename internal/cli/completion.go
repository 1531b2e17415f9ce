package cli

import (
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidencerelay/epack/config"
)

// Dynamic shell completion. cobra provides 'epack completion bash|zsh|fish|
// powershell' and the hidden '__complete' command the scripts call; the
// functions here give it what only the project knows: the remote names of
// epack.yaml (found from the working folder, as every command finds it) and
// its stream. A folder without a readable epack.yaml completes nothing
// rather than failing: completion must never print an error into a prompt.

// registerCompletions attaches the completion functions to the commands of
// root's tree: remote names for every positional argument a command's Use
// line calls <remote>, [remote] or [remote...], and the project's stream for
// every --stream flag (but init's, which names a stream that does not exist
// yet). Functions a command set itself are kept.
func registerCompletions(root *cobra.Command, g *Globals) {
	_ = g // the functions read only the project; g is for symmetry with the commands
	walkCommands(root, func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && takesRemote(c.Use) {
			c.ValidArgsFunction = completeRemoteArgs(c.Use)
		}
		if c.Flags().Lookup("stream") != nil && c.Name() != "init" {
			if _, ok := c.GetFlagCompletionFunc("stream"); !ok {
				_ = c.RegisterFlagCompletionFunc("stream", completeStream)
			}
		}
	})
}

// walkCommands calls fn for c and every command below it.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

// useArgs reads the positional arguments of a Use line ("push <remote>
// <pack>", "lock [remote...]"): their names, and whether the last one takes
// any number of values.
func useArgs(use string) (names []string, variadic bool) {
	fields := strings.Fields(use)
	for _, f := range fields[min(1, len(fields)):] {
		if f == "[flags]" {
			continue
		}
		name := strings.Trim(f, "<>[]")
		variadic = strings.HasSuffix(name, "...")
		names = append(names, strings.TrimSuffix(name, "..."))
	}
	return names, variadic
}

// takesRemote reports whether a Use line names a remote argument.
func takesRemote(use string) bool {
	names, _ := useArgs(use)
	for _, n := range names {
		if n == "remote" {
			return true
		}
	}
	return false
}

// completeRemoteArgs completes the positional arguments of a command whose
// Use line names a remote: remote names of the project (not already given)
// where the line says <remote>, [remote] or [remote...]; cobra's default
// (file names) for its other arguments; nothing past the last one.
func completeRemoteArgs(use string) cobra.CompletionFunc {
	names, variadic := useArgs(use)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		n := len(args)
		if n >= len(names) {
			if !variadic || len(names) == 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			n = len(names) - 1
		}
		if names[n] != "remote" {
			return nil, cobra.ShellCompDirectiveDefault
		}
		given := map[string]bool{}
		for _, a := range args {
			given[a] = true
		}
		var out []cobra.Completion
		for _, r := range projectRemotes() {
			if given[r.name] || !strings.HasPrefix(r.name, toComplete) {
				continue
			}
			if r.desc == "" {
				out = append(out, r.name)
			} else {
				out = append(out, cobra.CompletionWithDesc(r.name, r.desc))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStream offers the project's stream: for --stream.
func completeStream(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	if s := projectStream(); s != "" && strings.HasPrefix(s, toComplete) {
		out = append(out, s)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// remoteChoice is a remote name with the description shells show beside it.
type remoteChoice struct{ name, desc string }

// projectRemotes lists the remotes of the epack.yaml around the working
// folder, sorted by name, each described by its adapter; none when there is
// no readable project.
func projectRemotes() []remoteChoice {
	dir, err := os.Getwd()
	if err != nil {
		return nil
	}
	p, err := config.LoadProject(dir)
	if err != nil || p.Config == nil {
		return nil
	}
	var out []remoteChoice
	for name, r := range p.Config.Remotes {
		desc := ""
		if r != nil {
			if a := r.AdapterName(); a != "" {
				desc = a + " adapter"
			}
		}
		out = append(out, remoteChoice{name: name, desc: desc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
