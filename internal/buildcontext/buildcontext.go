// Package buildcontext describes the CI run a push comes from (commit, run
// URL, runner, pipeline) for the release's build_context map. It knows GitHub
// Actions, GitLab CI, Buildkite, CircleCI and Jenkins.
package buildcontext

import (
	"strings"
)

// Keys of the build context map.
const (
	KeyGitSHA     = "git_sha"
	KeyCIRunURL   = "ci_run_url"
	KeyRunnerType = "runner_type"
	KeyPipelineID = "pipeline_id"
)

// Getenv looks up an environment variable; os.Getenv in production.
type Getenv func(string) string

// Overrides name environment variables that replace detected values.
type Overrides struct {
	ShaEnv    string // replaces git_sha when the named variable is non-empty
	RunURLEnv string // replaces ci_run_url when the named variable is non-empty
}

type provider struct {
	runner   string
	detect   func(Getenv) bool
	sha      []string
	runURL   func(Getenv) string
	pipeline []string
}

func isTrue(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

func first(get Getenv, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(get(n)); v != "" {
			return v
		}
	}
	return ""
}

var providers = []provider{
	{
		runner: "github_actions",
		detect: func(g Getenv) bool { return isTrue(g("GITHUB_ACTIONS")) },
		sha:    []string{"GITHUB_SHA"},
		runURL: func(g Getenv) string {
			if u := strings.TrimSpace(g("GITHUB_RUN_URL")); u != "" {
				return u
			}
			server := strings.TrimRight(strings.TrimSpace(g("GITHUB_SERVER_URL")), "/")
			repo, id := strings.TrimSpace(g("GITHUB_REPOSITORY")), strings.TrimSpace(g("GITHUB_RUN_ID"))
			if server == "" || repo == "" || id == "" {
				return ""
			}
			return server + "/" + repo + "/actions/runs/" + id
		},
	},
	{
		runner:   "gitlab_ci",
		detect:   func(g Getenv) bool { return isTrue(g("GITLAB_CI")) },
		sha:      []string{"CI_COMMIT_SHA"},
		runURL:   func(g Getenv) string { return first(g, "CI_JOB_URL", "CI_PIPELINE_URL") },
		pipeline: []string{"CI_PIPELINE_ID"},
	},
	{
		runner:   "buildkite",
		detect:   func(g Getenv) bool { return isTrue(g("BUILDKITE")) },
		sha:      []string{"BUILDKITE_COMMIT"},
		runURL:   func(g Getenv) string { return first(g, "BUILDKITE_BUILD_URL") },
		pipeline: []string{"BUILDKITE_BUILD_ID"},
	},
	{
		runner:   "circleci",
		detect:   func(g Getenv) bool { return isTrue(g("CIRCLECI")) },
		sha:      []string{"CIRCLE_SHA1"},
		runURL:   func(g Getenv) string { return first(g, "CIRCLE_BUILD_URL") },
		pipeline: []string{"CIRCLE_WORKFLOW_ID"},
	},
	{
		runner:   "jenkins",
		detect:   func(g Getenv) bool { return strings.TrimSpace(g("JENKINS_URL")) != "" },
		sha:      []string{"GIT_COMMIT"},
		runURL:   func(g Getenv) string { return first(g, "BUILD_URL") },
		pipeline: []string{"BUILD_TAG", "BUILD_ID"},
	},
}

// Collect returns the build context for the current CI environment. Values
// are trimmed; empty values are left out; EPACK_PIPELINE_ID always wins for
// pipeline_id. The result is nil when nothing is known.
func Collect(get Getenv, o Overrides) map[string]string {
	m := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	for _, p := range providers {
		if !p.detect(get) {
			continue
		}
		set(KeyRunnerType, p.runner)
		set(KeyGitSHA, first(get, p.sha...))
		set(KeyCIRunURL, p.runURL(get))
		set(KeyPipelineID, first(get, p.pipeline...))
		break
	}
	set(KeyPipelineID, strings.TrimSpace(get("EPACK_PIPELINE_ID")))
	if o.ShaEnv != "" {
		set(KeyGitSHA, strings.TrimSpace(get(o.ShaEnv)))
	}
	if o.RunURLEnv != "" {
		set(KeyCIRunURL, get(o.RunURLEnv))
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
