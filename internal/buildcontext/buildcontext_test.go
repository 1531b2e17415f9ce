package buildcontext

import (
	"reflect"
	"testing"
)

func envOf(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestCollect(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		o    Overrides
		want map[string]string
	}{
		{"nothing", map[string]string{}, Overrides{}, nil},
		{"github full", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_SHA": " abc ", "GITHUB_SERVER_URL": "https://github.com/",
			"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42", "EPACK_PIPELINE_ID": "p1",
		}, Overrides{}, map[string]string{"runner_type": "github_actions", "git_sha": "abc",
			"ci_run_url": "https://github.com/o/r/actions/runs/42", "pipeline_id": "p1"}},
		{"github explicit run url", map[string]string{"GITHUB_ACTIONS": "TRUE", "GITHUB_RUN_URL": "https://x/run"},
			Overrides{}, map[string]string{"runner_type": "github_actions", "ci_run_url": "https://x/run"}},
		{"github partial url parts", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r"},
			Overrides{}, map[string]string{"runner_type": "github_actions"}},
		{"gitlab", map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": "s", "CI_JOB_URL": "https://gl/j/1", "CI_PIPELINE_ID": "9"},
			Overrides{}, map[string]string{"runner_type": "gitlab_ci", "git_sha": "s", "ci_run_url": "https://gl/j/1", "pipeline_id": "9"}},
		{"buildkite", map[string]string{"BUILDKITE": "true", "BUILDKITE_COMMIT": "s", "BUILDKITE_BUILD_URL": "https://bk/1", "BUILDKITE_BUILD_ID": "b"},
			Overrides{}, map[string]string{"runner_type": "buildkite", "git_sha": "s", "ci_run_url": "https://bk/1", "pipeline_id": "b"}},
		{"circleci", map[string]string{"CIRCLECI": "true", "CIRCLE_SHA1": "s", "CIRCLE_BUILD_URL": "https://c/1", "CIRCLE_WORKFLOW_ID": "w"},
			Overrides{}, map[string]string{"runner_type": "circleci", "git_sha": "s", "ci_run_url": "https://c/1", "pipeline_id": "w"}},
		{"jenkins", map[string]string{"JENKINS_URL": "https://j/", "GIT_COMMIT": "s", "BUILD_URL": "https://j/b/1", "BUILD_TAG": "t"},
			Overrides{}, map[string]string{"runner_type": "jenkins", "git_sha": "s", "ci_run_url": "https://j/b/1", "pipeline_id": "t"}},
		{"overrides", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a", "MY_SHA": "deadbeef", "MY_URL": " https://u "},
			Overrides{ShaEnv: "MY_SHA", RunURLEnv: "MY_URL"},
			map[string]string{"runner_type": "github_actions", "git_sha": "deadbeef", "ci_run_url": " https://u "}},
		{"empty override ignored", map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a"},
			Overrides{ShaEnv: "UNSET"}, map[string]string{"runner_type": "github_actions", "git_sha": "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Collect(envOf(tc.env), tc.o)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}
