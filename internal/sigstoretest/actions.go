package sigstoretest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// ActionsTokens is a stand-in for the GitHub Actions ID-token service
// (ACTIONS_ID_TOKEN_REQUEST_URL): it answers every request that carries a
// bearer token with {"value": token} and records the audience asked for.
type ActionsTokens struct {
	URL string

	mu        sync.Mutex
	audiences []string
}

// ActionsTokenServer starts the service on 127.0.0.1; it stops with the test.
func ActionsTokenServer(t testing.TB, token string) *ActionsTokens {
	t.Helper()
	a := &ActionsTokens{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Get("Authorization")) <= len("Bearer ") {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		a.audiences = append(a.audiences, r.URL.Query().Get("audience"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"value": token})
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// Audiences returns the audience of each token request so far.
func (a *ActionsTokens) Audiences() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.audiences...)
}
