// Command kube-env runs a real, single-process Kubernetes control plane for
// sluice's tests: an embedded etcd and the upstream kube-apiserver, both on
// 127.0.0.1, with no controller manager, scheduler or kubelet.
//
//	kube-env --dir DIR [--port 0]
//
// When the API server reports ready it writes, into DIR, ca.crt, admin.token,
// scheduler.token, kubeconfig, scheduler.kubeconfig and finally ready, a JSON
// object {"server":"https://127.0.0.1:PORT","pid":N} renamed into place so
// that a reader never sees half of it. The server logs go to
// DIR/apiserver.log and DIR/etcd.log. It stops on SIGTERM or SIGINT, and on
// its own when its parent process goes away, so that a crashed test never
// leaves a server behind.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// console is the standard error the process started with, kept for its own
// messages after the server logs have been sent to a file.
var console = os.Stderr

const (
	serviceRange  = "10.0.0.0/24"
	serviceIP     = "10.0.0.1"
	schedulerUser = "sluice-scheduler"
	readyTimeout  = 120 * time.Second
)

func main() {
	dir := flag.String("dir", "", "folder for the data, credentials and logs (required)")
	port := flag.Int("port", 0, "secure port of the API server; 0 picks a free one")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kube-env: --dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *port); err != nil {
		fmt.Fprintf(console, "kube-env: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, port int) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := redirectStderr(filepath.Join(dir, "apiserver.log")); err != nil {
		return err
	}
	go watchParent()

	p, err := makePKI(dir)
	if err != nil {
		return fmt.Errorf("generating credentials: %w", err)
	}
	etcd, etcdURL, err := startEtcd(dir)
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	defer etcd.Close()

	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	server := "https://127.0.0.1:" + strconv.Itoa(port)

	// The command installs its own SIGTERM/SIGINT handler and returns once
	// the server has shut down, which is when etcd may stop.
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(apiserverArgs(p, etcdURL, port))
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()

	if err := waitReady(server, p, done); err != nil {
		return err
	}
	if err := writeClientFiles(dir, server, p); err != nil {
		return err
	}
	fmt.Printf("kube-env: ready at %s\n", server)
	return <-done
}

// apiserverArgs are the flags of a minimal, secure API server. ServiceAccount
// admission is off because it rejects every Pod until a controller creates
// the namespace's "default" ServiceAccount, and no controller runs here; the
// webhook admission plugins stay on, as they are by default.
func apiserverArgs(p *pki, etcdURL string, port int) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback address; with no
		// reconciler the in-cluster "kubernetes" Service has no endpoints,
		// which no test here needs.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + p.certFile,
		"--tls-private-key-file=" + p.keyFile,
		"--client-ca-file=" + p.caFile,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPubFile,
		"--service-account-signing-key-file=" + p.saKeyFile,
		"--service-cluster-ip-range=" + serviceRange,
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
		// No load balancer sits in front, so there is nothing to wait for
		// when stopping.
		"--shutdown-delay-duration=0s",
	}
}

// startEtcd runs a one-member etcd whose data lives in dir/etcd. Fsync is
// off: the data only has to outlive the test, and syncing would make every
// write wait for the disk.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "kube-env"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, clientURL.String(), nil
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(readyTimeout):
		e.Close()
		return nil, "", fmt.Errorf("etcd not ready after %v", readyTimeout)
	}
}

// waitReady polls /readyz as the admin until it answers 200, which the API
// server only does once its post-start hooks (the RBAC bootstrap roles, the
// system namespaces) have run.
func waitReady(server string, p *pki, done <-chan error) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+p.adminToken)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("kube-apiserver stopped before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %v", readyTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeClientFiles writes what a client needs; the ready file goes last and
// by rename, so its presence means that every other file is complete.
func writeClientFiles(dir, server string, p *pki) error {
	files := map[string]string{
		"admin.token":          p.adminToken,
		"scheduler.token":      p.schedToken,
		"kubeconfig":           kubeconfig(server, p.caPEM, "admin", p.adminToken),
		"scheduler.kubeconfig": kubeconfig(server, p.caPEM, schedulerUser, p.schedToken),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	ready, err := json.Marshal(map[string]any{"server": server, "pid": os.Getpid()})
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "ready.tmp")
	if err := os.WriteFile(tmp, ready, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "ready"))
}

// watchParent asks the process to stop, as a SIGTERM would, once the parent
// that started it has gone (the process is then re-parented, so its parent
// id changes).
func watchParent() {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			return
		}
	}
}

// redirectStderr sends everything written to standard error, which is where
// klog writes, into path: the API server logs several hundred lines when it
// starts and tests should not show them.
func redirectStderr(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		return err
	}
	syscall.CloseOnExec(saved)
	console = os.NewFile(uintptr(saved), "console")
	return syscall.Dup3(int(f.Fd()), 2, 0)
}

// freePort asks the kernel for a port that is free now. Another process may
// take it before the server binds it, but on a test machine that is rare
// and shows up as a start failure, not as a wrong result.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kubeconfig is a client configuration for one user of the server, with the
// CA embedded so that it works from any folder.
func kubeconfig(server string, caPEM []byte, user, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kube-env
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: kube-env
  context:
    cluster: kube-env
    user: %s
current-context: kube-env
`, server, base64.StdEncoding.EncodeToString(caPEM), user, token, user)
}
