package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatewayops/genesys-gateway-operator/internal/scheme"
)

// controlPlane is a local etcd and kube-apiserver (envtest) with the CRDs installed and
// RBAC authorization, so that the runners act with exactly their ServiceAccount's rights.
type controlPlane struct {
	env *envtest.Environment
	// admin reaches the API server as a member of system:masters.
	admin *rest.Config
	// kubeconfig is the path of the admin kubeconfig, for the operator and the user.
	kubeconfig string
	client     client.Client
	scheme     *runtime.Scheme
}

// startControlPlane starts etcd and kube-apiserver from assets, with their data and
// certificates under workdir, and installs the CRDs of crdDir.
func startControlPlane(assets, crdDir, workdir string) (*controlPlane, error) {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("no %s in %s (make envtest builds it): %w", bin, assets, err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{crdDir},
		ErrorIfCRDPathMissing: true,
		// Never the cluster of the user's kubeconfig, whatever USE_EXISTING_CLUSTER says.
		UseExistingCluster: ptr.To(false),
	}
	for _, dir := range []string{"etcd", "kube-apiserver"} {
		if err := os.Mkdir(filepath.Join(workdir, dir), 0o700); err != nil {
			return nil, fmt.Errorf("creating the control plane's directory: %w", err)
		}
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(workdir, "etcd")}
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: filepath.Join(workdir, "kube-apiserver")}
	env.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	if _, err := env.Start(); err != nil {
		// Start may have started etcd before failing.
		_ = env.Stop()
		return nil, fmt.Errorf("starting etcd and kube-apiserver from %s: %w", assets, err)
	}
	cp := &controlPlane{env: env, kubeconfig: filepath.Join(workdir, "kubeconfig")}
	if err := cp.init(); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cp, nil
}

// init creates the admin user, writes its kubeconfig, and the demo's client.
func (cp *controlPlane) init() error {
	user, err := cp.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating the admin user: %w", err)
	}
	cp.admin = user.Config()
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("building the admin kubeconfig: %w", err)
	}
	if err := os.WriteFile(cp.kubeconfig, kubeconfig, 0o600); err != nil {
		return fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	cp.scheme = scheme.New()
	cp.client, err = client.New(cp.admin, client.Options{Scheme: cp.scheme})
	if err != nil {
		return fmt.Errorf("creating the API client: %w", err)
	}
	return nil
}

// crdNames lists the CRDs installed.
func (cp *controlPlane) crdNames() string {
	var names []string
	for _, crd := range cp.env.CRDs {
		names = append(names, crd.Name)
	}
	return strings.Join(names, ", ")
}

// serviceAccountKubeconfig writes a kubeconfig reaching the API server as the
// ServiceAccount namespace/name: the admin impersonates it, so RBAC applies exactly as to
// a pod running under it with its mounted token.
func (cp *controlPlane) serviceAccountKubeconfig(path, namespace, name string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["demo"] = &clientcmdapi.Cluster{Server: cp.admin.Host, CertificateAuthorityData: cp.admin.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cp.admin.CertData,
		ClientKeyData:         cp.admin.KeyData,
		Token:                 cp.admin.BearerToken,
		Impersonate:           "system:serviceaccount:" + namespace + ":" + name,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: "demo", AuthInfo: name, Namespace: namespace}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing the kubeconfig of ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return nil
}

// stop stops kube-apiserver and etcd.
func (cp *controlPlane) stop() error {
	if err := cp.env.Stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	return nil
}
