package testenv

import (
	"net/http"
	"testing"
)

// TestStartOCIRegistry starts the registry with TLS and auth and checks
// that it trusts its certificate and wants the user it made.
func TestStartOCIRegistry(t *testing.T) {
	for _, o := range []OCIOptions{{TLS: true, Auth: true}, {}} {
		srv := StartOCIForTest(t, o)
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v2/", nil)
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if o.Auth {
			want = http.StatusUnauthorized
			if resp.StatusCode == want {
				req.SetBasicAuth(srv.Username, srv.Password)
				resp, err = srv.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want = http.StatusOK
			}
		}
		if resp.StatusCode != want {
			t.Fatalf("%+v: GET /v2/ answered %d, want %d", o, resp.StatusCode, want)
		}
		if o.TLS != (srv.CAFile != "") || o.TLS == srv.PlainHTTP {
			t.Fatalf("%+v: server %+v", o, srv.OCI)
		}
	}
}

// TestRequireOCISkips: without a registry the OCI tests skip — and fail
// under EPACK_TEST_REQUIRE_OCI=1 or CI=true (scripts/test.sh sets both).
func TestRequireOCISkips(t *testing.T) {
	t.Setenv(EnvOCIHost, "")
	t.Setenv(EnvOCIRegistryBin, "/nonexistent/docker-registry")
	t.Setenv(EnvOrasBin, "/nonexistent/oras")
	for _, tc := range []struct {
		require, ci string
		want        string
	}{{"", "", "skip"}, {"1", "", "fatal"}, {"", "true", "fatal"}} {
		t.Setenv(EnvRequireOCI, tc.require)
		t.Setenv(EnvCI, tc.ci)
		for name, f := range map[string]func(testing.TB){
			"RequireOCI":  func(tb testing.TB) { RequireOCI(tb) },
			"RequireOras": func(tb testing.TB) { RequireOras(tb) },
		} {
			r := &recordTB{TB: t}
			f(r)
			if r.outcome != tc.want {
				t.Errorf("%s with %s=%q CI=%q: %s, want %s", name, EnvRequireOCI, tc.require, tc.ci, r.outcome, tc.want)
			}
		}
	}
}
