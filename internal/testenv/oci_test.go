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
