// Command ociserver runs the OCI test registry for scripts/test.sh: Debian's
// docker-registry (distribution 2.8) on 127.0.0.1 with TLS (a fresh
// self-signed certificate) and htpasswd auth (a random user), started by
// internal/testenv. Once the registry answers it writes the EPACK_TEST_OCI_*
// variables to -env-file (sourced by the script, read by testenv.RequireOCI),
// then serves until SIGTERM or SIGINT, when it stops the registry and
// removes its data and the env file.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/evidencerelay/epack/internal/testenv"
)

func main() {
	envFile := flag.String("env-file", "", "where to write the EPACK_TEST_OCI_* variables (required)")
	flag.Parse()
	if *envFile == "" {
		fmt.Fprintln(os.Stderr, "ociserver: -env-file is required")
		os.Exit(2)
	}
	bin, ok := testenv.OCIRegistryBinary()
	if !ok {
		fmt.Fprintf(os.Stderr, "ociserver: no registry binary (%s): apt-get install docker-registry\n", bin)
		os.Exit(1)
	}
	srv, err := testenv.StartOCIRegistry(bin, testenv.OCIOptions{TLS: true, Auth: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ociserver:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	env := fmt.Sprintf("export %s=%s\nexport %s=%s\nexport %s=%s\nexport %s=%s\n",
		testenv.EnvOCIHost, srv.Host, testenv.EnvOCIUsername, srv.Username, testenv.EnvOCIPassword, srv.Password, testenv.EnvOCICAFile, srv.CAFile)
	tmp := filepath.Join(filepath.Dir(*envFile), "."+filepath.Base(*envFile)+".tmp")
	if err := os.WriteFile(tmp, []byte(env), 0o600); err == nil {
		err = os.Rename(tmp, *envFile)
	}
	if err != nil {
		srv.Stop()
		fmt.Fprintln(os.Stderr, "ociserver:", err)
		os.Exit(1)
	}
	fmt.Printf("OCI registry (%s) at https://%s, env in %s\n", bin, srv.Host, *envFile)
	<-sig
	srv.Stop()
	os.Remove(*envFile)
}
